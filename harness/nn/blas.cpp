#include "harness/nn/blas.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>

#ifndef GRADLAB_OPENBLAS_PATH
#define GRADLAB_OPENBLAS_PATH "libopenblas.so.0"
#endif

namespace gl {

// ---- loading ----

// CBLAS's column-major layout and transpose flags (cblas.h's values).
constexpr int cblas_col_major = 102, cblas_no_trans = 111, cblas_trans = 112;

struct OpenBlas {
  using Sgemm = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int,
                         float, float*, int);
  using Dgemm = void (*)(int, int, int, int, int, int, double, const double*, int, const double*,
                         int, double, double*, int);
  Sgemm sgemm = nullptr;
  Dgemm dgemm = nullptr;
  std::string name;     // "OpenBLAS 0.3.21 (SkylakeX kernels, 1 thread per call)"
  std::string missing;  // why it is not used ("" when it is)
};

// The core type that OpenBLAS's own detection would give a CPU it knows, from the ISA.
static const char* coretype_of_isa() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
  return nullptr;
}

static OpenBlas openblas_load() {
  OpenBlas lib;
  const char* choice = std::getenv("GRADLAB_BLAS");
  if (choice && std::strcmp(choice, "eigen") == 0) {
    lib.missing = "GRADLAB_BLAS=eigen";
    return lib;
  }
  // Read by OpenBLAS when it is loaded: its kernels, and no threads of its own if the library
  // found is a threaded build.
  if (!std::getenv("OPENBLAS_CORETYPE"))
    if (const char* core = coretype_of_isa()) setenv("OPENBLAS_CORETYPE", core, 0);
  setenv("OPENBLAS_NUM_THREADS", "1", 0);
  void* h = dlopen(GRADLAB_OPENBLAS_PATH, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    lib.missing = fmt::format("{} not found (Debian: libopenblas0-pthread)", GRADLAB_OPENBLAS_PATH);
    return lib;
  }
  lib.sgemm = reinterpret_cast<OpenBlas::Sgemm>(dlsym(h, "cblas_sgemm"));
  lib.dgemm = reinterpret_cast<OpenBlas::Dgemm>(dlsym(h, "cblas_dgemm"));
  const auto config = reinterpret_cast<const char* (*)()>(dlsym(h, "openblas_get_config"));
  const auto core = reinterpret_cast<const char* (*)()>(dlsym(h, "openblas_get_corename"));
  const auto threads = reinterpret_cast<void (*)(int)>(dlsym(h, "openblas_set_num_threads"));
  if (!lib.sgemm || !lib.dgemm || !config || !core || !threads) {
    lib = {};
    lib.missing = fmt::format("{} lacks cblas_sgemm/cblas_dgemm", GRADLAB_OPENBLAS_PATH);
    return lib;
  }
  threads(1);
  // openblas_get_config(): "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64"
  std::string version = config();
  const size_t second = version.find(' ', version.find(' ') + 1);
  if (second != std::string::npos) version.resize(second);
  lib.name = fmt::format("{} ({} kernels, 1 thread per call)", version, core());
  return lib;
}

static const OpenBlas& openblas() {
  static const OpenBlas lib = openblas_load();  // once, thread-safe
  return lib;
}

static BlasRoute route;

void blas_route_set(const BlasRoute& r) { route = r; }
BlasRoute blas_route() { return route; }

bool blas_openblas() { return openblas().sgemm != nullptr; }
const char* blas_openblas_path() { return GRADLAB_OPENBLAS_PATH; }

std::string blas_name() {
  const std::string eigen =
      fmt::format("Eigen {}.{}.{}", EIGEN_WORLD_VERSION, EIGEN_MAJOR_VERSION, EIGEN_MINOR_VERSION);
  const OpenBlas& lib = openblas();
  if (!lib.sgemm) return fmt::format("{} (OpenBLAS not used: {})", eigen, lib.missing);
  return fmt::format(
      "{} for products of >= {:.0f} multiply-adds with every side >= {}; {} otherwise", lib.name,
      route.min_madds, route.min_side, eigen);
}

// ---- products ----

template <class T, class L, class R>
static void eigen_product(T alpha, const L& a, const R& b, T beta, MatRef<T>& C) {
  if (beta == T(0)) {
    if (alpha == T(1))
      C.noalias() = a * b;
    else
      C.noalias() = (alpha * a) * b;
  } else {
    if (alpha == T(1))
      C.noalias() += a * b;
    else
      C.noalias() += (alpha * a) * b;
  }
}

template <class T>
void gemm(T alpha, const MatCRef<T>& A, Op opa, const MatCRef<T>& B, Op opb, T beta, MatRef<T> C) {
  const Index m = C.rows(), n = C.cols(), k = opa == Op::none ? A.cols() : A.rows();
  const OpenBlas& lib = openblas();
  const bool big =
      static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) >= route.min_madds &&
      std::min({m, n, k}) >= std::max<Index>(route.min_side, 1) &&
      std::max({m, n, k, A.outerStride(), B.outerStride(), C.outerStride()}) <= INT_MAX;
  if (lib.sgemm && big) {
    const auto i = [](Index v) { return static_cast<int>(v); };
    const int ta = opa == Op::none ? cblas_no_trans : cblas_trans;
    const int tb = opb == Op::none ? cblas_no_trans : cblas_trans;
    if constexpr (std::is_same_v<T, float>)
      lib.sgemm(cblas_col_major, ta, tb, i(m), i(n), i(k), alpha, A.data(), i(A.outerStride()),
                B.data(), i(B.outerStride()), beta, C.data(), i(C.outerStride()));
    else
      lib.dgemm(cblas_col_major, ta, tb, i(m), i(n), i(k), alpha, A.data(), i(A.outerStride()),
                B.data(), i(B.outerStride()), beta, C.data(), i(C.outerStride()));
    return;
  }
  if (opa == Op::none && opb == Op::none)
    eigen_product(alpha, A, B, beta, C);
  else if (opa == Op::none)
    eigen_product(alpha, A, B.transpose(), beta, C);
  else if (opb == Op::none)
    eigen_product(alpha, A.transpose(), B, beta, C);
  else
    eigen_product(alpha, A.transpose(), B.transpose(), beta, C);
}

// ---- one packed left operand, many products ----

namespace ei = Eigen::internal;
template <class T>
using Gebp = ei::gebp_traits<T, T>;
static_assert(Gebp<float>::nr == gemm_panel && Gebp<double>::nr == gemm_panel);

// Packed blocks start 64-byte aligned (the kernel's loads are aligned).
static Index padded(Index n) { return (n + 15) / 16 * 16; }

template <class T>
GemmBlocking gemm_blocking(Index m, Index n, Index k) {
  if (m + n + k < EIGEN_GEMM_TO_COEFFBASED_THRESHOLD || m <= 1 || n <= 1 || k == 0) return {};
  ei::gemm_blocking_space<Eigen::ColMajor, T, T, Eigen::Dynamic, Eigen::Dynamic, Eigen::Dynamic> b(
      m, n, k, 1, true);
  if (b.nc() < n) return {};
  return {b.kc(), std::min(m, b.mc())};
}

// p.a ← A packed as Eigen's product of A by (k, n) matrices packs it; A = W (Order ColMajor) or
// Wᵀ (RowMajor: W's storage read by rows).
template <class T, int Order>
static bool pack_lhs(const Mat<T>& W, Index n, int threads, PackedGemm<T>& p) {
  const Index m = Order == Eigen::ColMajor ? W.rows() : W.cols(),
              k = W.size() / std::max<Index>(m, 1);
  p.m = m;
  p.k = k;
  p.blocking = gemm_blocking<T>(m, n, k);
  const Index kcb = p.blocking.kc, mcb = p.blocking.mc;
  if (kcb == 0) return false;
  Index na = 0, nb = 0;
  for (Index k2 = 0; k2 < k; k2 += kcb) {
    const Index kc = std::min(kcb, k - k2);
    nb += padded(kc * n);
    for (Index i2 = 0; i2 < m; i2 += mcb) na += padded(std::min(mcb, m - i2) * kc);
  }
  if (p.a.size() < na) p.a.resize(na);
  if (p.b.rows() < nb || p.b.cols() < threads)
    p.b.resize(std::max(nb, p.b.rows()), std::max<Index>(threads, p.b.cols()));
  using Map = ei::const_blas_data_mapper<T, Index, Order>;
  ei::gemm_pack_lhs<T, Index, Map, Gebp<T>::mr, Gebp<T>::LhsProgress,
                    typename Gebp<T>::LhsPacket4Packing, Order>
      pack;
  const Map lhs(W.data(), W.outerStride());
  T* a = p.a.data();
  for (Index i2 = 0; i2 < m; i2 += mcb) {
    const Index mc = std::min(mcb, m - i2);
    for (Index k2 = 0; k2 < k; k2 += kcb) {
      const Index kc = std::min(kcb, k - k2);
      pack(a, lhs.getSubMapper(i2, k2), kc, mc);
      a += padded(mc * kc);
    }
  }
  return true;
}

template <class T>
bool gemm_pack(const Mat<T>& W, Op op, Index n, int threads, PackedGemm<T>& p) {
  return op == Op::none ? pack_lhs<T, Eigen::ColMajor>(W, n, threads, p)
                        : pack_lhs<T, Eigen::RowMajor>(W, n, threads, p);
}

// Eigen's sequential GEMM loop, with the one packed A and the slice packed once.
template <class T>
void gemm_packed_add(PackedGemm<T>& p, const T* B, T* C, Index ld, Index n, int thread) {
  using RhsMap = ei::const_blas_data_mapper<T, Index, Eigen::ColMajor>;
  using ResMap = ei::blas_data_mapper<T, Index, Eigen::ColMajor, Eigen::Unaligned, 1>;
  ei::gemm_pack_rhs<T, Index, RhsMap, Gebp<T>::nr, Eigen::ColMajor> pack_rhs;
  ei::gebp_kernel<T, T, Index, ResMap, Gebp<T>::mr, Gebp<T>::nr, false, false> gebp;
  const RhsMap rhs(B, ld);
  const ResMap res(C, ld);
  const Index m = p.m, k = p.k, kcb = p.blocking.kc, mcb = p.blocking.mc;
  T* const b = p.b.col(thread).data();
  T* bk = b;
  for (Index k2 = 0; k2 < k; k2 += kcb) {
    const Index kc = std::min(kcb, k - k2);
    pack_rhs(bk, rhs.getSubMapper(k2, 0), kc, n);
    bk += padded(kc * n);
  }
  const T* a = p.a.data();
  for (Index i2 = 0; i2 < m; i2 += mcb) {
    const Index mc = std::min(mcb, m - i2);
    bk = b;
    for (Index k2 = 0; k2 < k; k2 += kcb) {
      const Index kc = std::min(kcb, k - k2);
      gebp(res.getSubMapper(i2, 0), a, bk, mc, kc, n, T(1));
      a += padded(mc * kc);
      bk += padded(kc * n);
    }
  }
}

#define GL_PACKED_INST(T)                                                    \
  template GemmBlocking gemm_blocking<T>(Index, Index, Index);               \
  template bool gemm_pack<T>(const Mat<T>&, Op, Index, int, PackedGemm<T>&); \
  template void gemm_packed_add<T>(PackedGemm<T>&, const T*, T*, Index, Index, int);
GL_PACKED_INST(float)
GL_PACKED_INST(double)

template void gemm<float>(float, const MatCRef<float>&, Op, const MatCRef<float>&, Op, float,
                          MatRef<float>);
template void gemm<double>(double, const MatCRef<double>&, Op, const MatCRef<double>&, Op, double,
                           MatRef<double>);

}  // namespace gl
