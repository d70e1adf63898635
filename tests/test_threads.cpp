// The team helper (harness/core/threads.h): split_range's panels tile [0, n) in whole groups at
// the points the code has always split at, and every thread of a team_run computes in the
// caller's floating-point mode.
#include <gtest/gtest.h>

#include <omp.h>

#include <vector>

#include "harness/core/threads.h"

using namespace gl;

TEST(Threads, SplitRangeTilesInWholeGroups) {
  for (Index n : {0, 1, 5, 16, 17, 63, 64, 1000, 1023})
    for (Index nt : {1, 2, 3, 7})
      for (Index align : {1, 4, 16}) {
        Index next = 0;
        for (Index t = 0; t < nt; ++t) {
          const Range r = split_range(n, t, nt, align);
          EXPECT_EQ(r.begin, next) << n << " " << nt << " " << align;
          EXPECT_GE(r.size, 0);
          if (r.begin + r.size < n) {
            EXPECT_EQ((r.begin + r.size) % align, 0);  // whole groups
          }
          next = r.begin + r.size;
        }
        EXPECT_EQ(next, n) << n << " " << nt << " " << align;
      }
}

TEST(Threads, SplitRangeKeepsTheSplitPoints) {
  // align 1: [n·t/nt, n·(t+1)/nt) (the MLP's units and examples)
  EXPECT_EQ(split_range(10, 1, 3).begin, 3);
  EXPECT_EQ(split_range(10, 1, 3).size, 3);
  EXPECT_EQ(split_range(10, 2, 3).size, 4);
  // panels of 4 (the RNN's columns): 10 columns = 3 panels, thread 0 of 2 takes 1 panel
  EXPECT_EQ(split_range(10, 0, 2, 4).size, 4);
  EXPECT_EQ(split_range(10, 1, 2, 4).begin, 4);
  EXPECT_EQ(split_range(10, 1, 2, 4).size, 6);
}

TEST(Threads, TeamRunGivesEveryThreadItsIndexAndTheCallersMode) {
  for (int threads : {1, 2, 3}) {
    std::vector<int> seen(static_cast<size_t>(threads), 0);
    int team = 0;
    team_run(threads, [&](int t, int nt) {
#pragma omp atomic
      seen[static_cast<size_t>(t)] += 1;
      if (t == 0) team = nt;
    });
    EXPECT_EQ(team, threads);
    for (int s : seen) EXPECT_EQ(s, 1);
  }
#if defined(__x86_64__) || defined(__i386__)
  omp_set_num_threads(2);
  team_run(2, [](int, int) {});  // the pool's threads exist before the mode is set
  const unsigned saved = _mm_getcsr();
  _mm_setcsr(saved | 0x8040u);  // FTZ and DAZ
  std::vector<unsigned> csr(2, 0);
  team_run(2, [&](int t, int) { csr[static_cast<size_t>(t)] = _mm_getcsr(); });
  _mm_setcsr(saved);
  omp_set_num_threads(1);
  EXPECT_EQ(csr[0] & 0x8040u, 0x8040u);
  EXPECT_EQ(csr[1] & 0x8040u, 0x8040u);
#endif
}
