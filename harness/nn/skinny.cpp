#include "harness/nn/skinny.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace gl {

namespace ei = Eigen::internal;
template <class T>
using Packet = typename ei::packet_traits<T>::type;
template <class T>
constexpr int lanes_of = ei::unpacket_traits<Packet<T>>::size;

#ifdef EIGEN_VECTORIZE_FMA
constexpr bool fma_packets = true;
#else
constexpr bool fma_packets = false;
#endif
bool skinny_enabled() { return fma_packets; }

template <class T>
int skinny_lanes() {
  return lanes_of<T>;
}

// Register budget: 32 vector registers with AVX-512 (64-byte packets), 16 below. A tile keeps
// `wide` packets (rows of W, or columns) by at most `cols` columns of sums in registers, so B
// columns go in one chunk up to `cols`, else in two.
template <class T>
constexpr int wide = sizeof(Packet<T>) >= 64 ? 2 : 1;
constexpr int cols = 12;
template <int B>
constexpr int chunk0 = B <= cols ? B
                                 : (B + 1) / 2;  // the first chunk's columns; the second: B − it

// Calls f.template operator()<B>() for B = n, 1 ≤ n ≤ skinny_batch (a tile's column count is a
// template argument, so that its sums stay in registers).
template <class F, int... N>
static void batch_dispatch(int n, F&& f, std::integer_sequence<int, N...>) {
  ((n == N + 1 ? f.template operator()<N + 1>() : void()), ...);
}
template <class F>
static void with_batch(Index B, F&& f) {
  if (B < 1 || B > skinny_batch) throw std::logic_error("skinny: a batch of 1 to 16 examples");
  batch_dispatch(static_cast<int>(B), f, std::make_integer_sequence<int, skinny_batch>{});
}

template <class T>
static Packet<T> zero() {
  return ei::pset1<Packet<T>>(T(0));
}

// Keeps p in a register: GCC would otherwise fold its load into every multiply-add that uses it,
// loading it again for each (the tiles are bound by their loads).
template <class P>
static void in_register(P& p) {
#if defined(__GNUC__) && defined(__x86_64__)
  __asm__("" : "+v"(p));
#else
  (void)p;
#endif
}

// ---- z = W x ----

constexpr Index ahead = 24;  // columns of W prefetched ahead of the product

// z rows [0, RP·lanes) of the tile at W, z, for NB columns: RP·NB packets of sums.
template <class T, int RP, int NB>
static void product_tile(const T* W, Index ldw, const T* x, Index ldx, T* z, Index ldz, Index k) {
  using P = Packet<T>;
  constexpr int L = lanes_of<T>;
  P acc[NB][RP];
  for (auto& col : acc)
    for (P& p : col) p = zero<T>();
  for (Index j = 0; j < k; ++j) {
    // W's rows of this tile, column j + ahead: ahead·ldw apart in memory, too far for the
    // hardware's prefetchers to guess in time
    const T* next = W + std::min(j + ahead, k - 1) * ldw;
    for (int r = 0; r <= RP; ++r) __builtin_prefetch(next + r * L);
    P w[RP];
    for (int r = 0; r < RP; ++r) w[r] = ei::ploadu<P>(W + j * ldw + r * L);
    for (int b = 0; b < NB; ++b) {
      const P xb = ei::pset1<P>(x[j + b * ldx]);
      for (int r = 0; r < RP; ++r) acc[b][r] = ei::pmadd(w[r], xb, acc[b][r]);
    }
  }
  for (int b = 0; b < NB; ++b)
    for (int r = 0; r < RP; ++r) ei::pstoreu(z + b * ldz + r * L, acc[b][r]);
}

// One row of z for NB columns, by scalar fused multiply-adds (a lane's arithmetic).
template <class T, int NB>
static void product_row(const T* W, Index ldw, const T* x, Index ldx, T* z, Index ldz, Index k) {
  T acc[NB] = {};
  for (Index j = 0; j < k; ++j) {
    const T w = W[j * ldw];
    for (int b = 0; b < NB; ++b) acc[b] = std::fma(w, x[j + b * ldx], acc[b]);
  }
  for (int b = 0; b < NB; ++b) z[b * ldz] = acc[b];
}

template <class T, int NB>
static void product_chunk(const T* W, Index ldw, Index m, Index k, const T* x, Index ldx, T* z,
                          Index ldz) {
  constexpr int L = lanes_of<T>, RP = wide<T>;
  Index i = 0;
  for (; i + RP * L <= m; i += RP * L) product_tile<T, RP, NB>(W + i, ldw, x, ldx, z + i, ldz, k);
  for (; i + L <= m; i += L) product_tile<T, 1, NB>(W + i, ldw, x, ldx, z + i, ldz, k);
  for (; i < m; ++i) product_row<T, NB>(W + i, ldw, x, ldx, z + i, ldz, k);
}

template <class T>
void skinny_product(const MatCRef<T>& W, const MatCRef<T>& x, MatRef<T> z) {
  const Index m = W.rows(), k = W.cols(), ldw = W.outerStride(), ldx = x.outerStride(),
              ldz = z.outerStride();
  with_batch(x.cols(), [&]<int B>() {
    constexpr int N0 = chunk0<B>;
    product_chunk<T, N0>(W.data(), ldw, m, k, x.data(), ldx, z.data(), ldz);
    if constexpr (B > N0)
      product_chunk<T, B - N0>(W.data(), ldw, m, k, x.data() + N0 * ldx, ldx, z.data() + N0 * ldz,
                               ldz);
  });
}

// ---- y = Wᵀ d ----

// y rows [0, CJ) (W's columns at W) for NB columns of d: CJ·NB packets of lane sums over the rows,
// the last packet's rows zero-padded, then predux.
template <class T, int CJ, int NB>
static void product_tn_tile(const T* W, Index ldw, Index m, const T* d, Index ldd, T* y,
                            Index ldy) {
  using P = Packet<T>;
  constexpr int L = lanes_of<T>;
  P acc[CJ][NB];
  for (auto& col : acc)
    for (P& p : col) p = zero<T>();
  const auto rows = [&](const T* Wi, Index wstride, const T* di, Index dstride) {
    P w[CJ];
    for (int c = 0; c < CJ; ++c) w[c] = ei::ploadu<P>(Wi + c * wstride);
    for (int b = 0; b < NB; ++b) {
      P db = ei::ploadu<P>(di + b * dstride);
      if constexpr (CJ > 1) in_register(db);
      for (int c = 0; c < CJ; ++c) acc[c][b] = ei::pmadd(w[c], db, acc[c][b]);
    }
  };
  const Index mp = m / L * L;
  for (Index i = 0; i < mp; i += L) {
    // the next tile's columns, a tile ahead (each column is a short stream, which the hardware
    // prefetchers would only pick up after its first misses)
    for (int c = 0; c < CJ; ++c) __builtin_prefetch(W + (c + CJ) * ldw + i);
    rows(W + i, ldw, d + i, ldd);
  }
  if (mp < m) {  // the rows left, zero-padded to a packet
    T wt[CJ][L] = {}, dt[NB][L] = {};
    for (Index i = mp; i < m; ++i) {
      for (int c = 0; c < CJ; ++c) wt[c][i - mp] = W[c * ldw + i];
      for (int b = 0; b < NB; ++b) dt[b][i - mp] = d[b * ldd + i];
    }
    rows(&wt[0][0], L, &dt[0][0], L);
  }
  for (int c = 0; c < CJ; ++c)
    for (int b = 0; b < NB; ++b) y[c + b * ldy] = ei::predux(acc[c][b]);
}

// y rows [0, CJ) for all B columns of d, in its one or two chunks.
template <class T, int CJ, int B>
static void product_tn_cols(const T* W, Index ldw, Index m, const T* d, Index ldd, T* y,
                            Index ldy) {
  constexpr int N0 = chunk0<B>;
  product_tn_tile<T, CJ, N0>(W, ldw, m, d, ldd, y, ldy);
  if constexpr (B > N0)
    product_tn_tile<T, CJ, B - N0>(W, ldw, m, d + N0 * ldd, ldd, y + N0 * ldy, ldy);
}

template <class T>
void skinny_product_tn(const MatCRef<T>& W, const MatCRef<T>& d, MatRef<T> y) {
  constexpr int CJ = wide<T>;
  const Index m = W.rows(), n = W.cols(), ldw = W.outerStride(), ldd = d.outerStride(),
              ldy = y.outerStride();
  with_batch(d.cols(), [&]<int B>() {
    Index j = 0;
    for (; j + CJ <= n; j += CJ)
      product_tn_cols<T, CJ, B>(W.data() + j * ldw, ldw, m, d.data(), ldd, y.data() + j, ldy);
    for (; j < n; ++j)
      product_tn_cols<T, 1, B>(W.data() + j * ldw, ldw, m, d.data(), ldd, y.data() + j, ldy);
  });
}

// ---- y = Wᵀ d, then W ← W + α d aᵀ ----

// W's columns [0, CJ) at W: W(i, c) ← W(i, c) + α·u, u = Σ_b d(i, b) a(c, b) (fused
// multiply-adds in the order of b from 0), the step one fused multiply-add. The CJ·B values
// a(c, b) stay in registers (CJ = 1 when they would not fit); RP packets of rows at a time, so
// that RP·CJ chains of multiply-adds overlap.
template <class T, int CJ, int B>
static void update_tile(T* W, Index ldw, Index m, const T* d, Index ldd, const T* a, Index lda,
                        T alpha) {
  using P = Packet<T>;
  constexpr int L = lanes_of<T>;
  P ab[CJ][B];
  for (int c = 0; c < CJ; ++c)
    for (int b = 0; b < B; ++b) ab[c][b] = ei::pset1<P>(a[c + b * lda]);
  const P av = ei::pset1<P>(alpha);
  const auto rows = [&]<int RP>(T* Wi, Index wstride, const T* di, Index dstride) {
    P u[RP][CJ];
    for (auto& row : u)
      for (P& p : row) p = zero<T>();
    for (int b = 0; b < B; ++b)
      for (int r = 0; r < RP; ++r) {
        P db = ei::ploadu<P>(di + b * dstride + r * L);
        if constexpr (CJ > 1) in_register(db);
        for (int c = 0; c < CJ; ++c) u[r][c] = ei::pmadd(db, ab[c][b], u[r][c]);
      }
    for (int r = 0; r < RP; ++r)
      for (int c = 0; c < CJ; ++c) {
        T* w = Wi + c * wstride + r * L;
        ei::pstoreu(w, ei::pmadd(av, u[r][c], ei::ploadu<P>(w)));
      }
  };
  Index i = 0;
  for (; i + 2 * L <= m; i += 2 * L) rows.template operator()<2>(W + i, ldw, d + i, ldd);
  for (; i + L <= m; i += L) rows.template operator()<1>(W + i, ldw, d + i, ldd);
  if (i < m) {  // the rows left, zero-padded to a packet (element by element as above)
    T wt[CJ][L] = {}, dt[B][L] = {};
    for (Index r = i; r < m; ++r) {
      for (int c = 0; c < CJ; ++c) wt[c][r - i] = W[c * ldw + r];
      for (int b = 0; b < B; ++b) dt[b][r - i] = d[b * ldd + r];
    }
    rows.template operator()<1>(&wt[0][0], L, &dt[0][0], L);
    for (Index r = i; r < m; ++r)
      for (int c = 0; c < CJ; ++c) W[c * ldw + r] = wt[c][r - i];
  }
}

template <class T>
void skinny_backward_sgd(MatRef<T> W, const MatCRef<T>& d, const MatCRef<T>& a, T alpha,
                         MatRef<T> y) {
  const Index m = W.rows(), n = W.cols(), ldw = W.outerStride(), ldd = d.outerStride(),
              lda = a.outerStride(), ldy = y.outerStride();
  const bool back = y.rows() > 0;
  with_batch(d.cols(), [&]<int B>() {
    // the update's B broadcasts of a per column, next to its sums, fit twice with AVX-512 up to 12
    constexpr int CJ = B <= cols ? wide<T> : 1;
    const auto tiles = [&]<int C>(Index j) {
      T* Wj = W.data() + j * ldw;
      if (back) product_tn_cols<T, C, B>(Wj, ldw, m, d.data(), ldd, y.data() + j, ldy);
      update_tile<T, C, B>(Wj, ldw, m, d.data(), ldd, a.data() + j, lda, alpha);
    };
    Index j = 0;
    for (; j + CJ <= n; j += CJ) tiles.template operator()<CJ>(j);
    for (; j < n; ++j) tiles.template operator()<1>(j);
  });
}

#define GL_SKINNY_INST(T)                                                                  \
  template int skinny_lanes<T>();                                                          \
  template void skinny_product<T>(const MatCRef<T>&, const MatCRef<T>&, MatRef<T>);        \
  template void skinny_product_tn<T>(const MatCRef<T>&, const MatCRef<T>&, MatRef<T>);     \
  template void skinny_backward_sgd<T>(MatRef<T>, const MatCRef<T>&, const MatCRef<T>&, T, \
                                       MatRef<T>);
GL_SKINNY_INST(float)
GL_SKINNY_INST(double)

}  // namespace gl
