// Sequence data (harness/data/tasks.h): Pascanu's temporal_order and addition generators follow
// their definitions (marker positions, lengths, targets) on fixed seeds, the three streams are
// seeded as harness/data/data.cpp seeds them, gaussian sequences have the documented layout, and a
// small RNN learns the addition task at a short length.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "experiments/run.h"
#include "harness/data/tasks.h"

using namespace gl;

namespace {

Config config_of(const std::string& text) {
  std::vector<ConfigIssue> issues;
  Config c = config_from_json(json::parse(text), issues);
  for (const auto& i : issues) ADD_FAILURE() << i.path << ": " << i.message;
  return c;
}

// The symbol (channel) of step t of example i in a one-hot batch.
Index symbol(const SeqBatch<double>& b, Index t, Index i) {
  Index k = -1;
  for (Index f = 0; f < b.x.rows(); ++f)
    if (b.x(f, t * b.batch + i) == 1.0) {
      EXPECT_EQ(k, -1) << "two symbols at t " << t;
      k = f;
    } else {
      EXPECT_EQ(b.x(f, t * b.batch + i), 0.0);
    }
  EXPECT_GE(k, 0) << "no symbol at t " << t;
  return k;
}

}  // namespace

TEST(Tasks, TemporalOrderFollowsTheDefinition) {
  for (Index L : {10, 50, 137}) {
    Rng r = rng_make(static_cast<uint64_t>(L));
    SeqBatch<double> b;
    const Index n = 400;
    temporal_order_generate(r, L, n, b);
    ASSERT_EQ(b.steps, L);
    ASSERT_EQ(b.batch, n);
    ASSERT_EQ(b.x.rows(), 6);
    const Index k = L / 10, half = L / 2;
    std::set<Index> p0s, p1s;
    std::vector<int> classes(4, 0);
    for (Index i = 0; i < n; ++i) {
      std::vector<Index> marks;  // steps holding A (0) or B (1)
      for (Index t = 0; t < L; ++t)
        if (symbol(b, t, i) < 2) marks.push_back(t);
      ASSERT_EQ(marks.size(), 2u) << "example " << i;
      const Index p0 = marks[0], p1 = marks[1];
      EXPECT_GE(p0, k);
      EXPECT_LT(p0, 2 * k);
      EXPECT_GE(p1, half);
      EXPECT_LT(p1, half + k);
      p0s.insert(p0);
      p1s.insert(p1);
      const Index v0 = symbol(b, p0, i), v1 = symbol(b, p1, i);
      const int32_t y = b.y.labels[static_cast<size_t>(i)];
      EXPECT_EQ(y, v0 + 2 * v1);  // AA, BA, AB, BB
      ++classes[static_cast<size_t>(y)];
    }
    EXPECT_EQ(static_cast<Index>(p0s.size()), k) << "every p0 in [L/10, 2L/10) occurs";
    EXPECT_EQ(static_cast<Index>(p1s.size()), k);
    for (int cnt : classes) EXPECT_NEAR(cnt / 400.0, 0.25, 0.08);
  }
}

TEST(Tasks, AdditionFollowsTheDefinition) {
  const Config c = config_of(R"({"model": {"type": "rnn", "width": 4},
                                  "data": {"name": "addition", "length": 50}})");
  SeqData<double> d = seq_data_make<double>(c, 17);
  EXPECT_EQ(d.inputs, 2);
  EXPECT_EQ(d.outputs, 1);
  EXPECT_FALSE(d.labels);
  std::set<Index> lengths;
  SeqBatch<double> b;
  for (int rep = 0; rep < 300; ++rep) {
    const bool train = rep < 200;
    seq_sample(d, train ? Split::train : Split::probe, 20, b);
    const Index l = b.steps, n = b.batch;
    if (train) {
      lengths.insert(l);
      EXPECT_GE(l, 50);
      EXPECT_LT(l, 55);  // L + U{0..⌊L/10⌋−1}
    } else {
      EXPECT_EQ(l, 50);  // probe and test: L exactly
    }
    const Index k = l / 10, m = 4 * l / 10;
    for (Index i = 0; i < n; ++i) {
      std::vector<Index> marks;
      for (Index t = 0; t < l; ++t) {
        const double flag = b.x(0, t * n + i), v = b.x(1, t * n + i);
        EXPECT_TRUE(flag == 0.0 || flag == 1.0);
        if (flag == 1.0) marks.push_back(t);
        EXPECT_GE(v, 0.0);
        EXPECT_LT(v, 1.0);
      }
      ASSERT_EQ(marks.size(), 2u);
      EXPECT_LT(marks[0], k);
      EXPECT_GE(marks[1], k);
      EXPECT_LT(marks[1], k + m);
      const double want = (b.x(1, marks[0] * n + i) + b.x(1, marks[1] * n + i)) / 2;
      EXPECT_EQ(b.y.y(0, i), want);
    }
  }
  EXPECT_EQ(lengths, (std::set<Index>{50, 51, 52, 53, 54}));
}

TEST(Tasks, StreamsAreSeededLikeTheOtherDatasets) {
  const Config c = config_of(R"({"model": {"type": "rnn", "width": 4},
                                  "data": {"name": "temporal_order", "length": 20}})");
  SeqData<double> a = seq_data_make<double>(c, 3), b = seq_data_make<double>(c, 3);
  SeqBatch<double> pa, pb, tr;
  seq_sample(a, Split::train, 50, tr);  // training draws do not move the probe stream
  seq_sample(a, Split::probe, 30, pa);
  seq_sample(b, Split::probe, 30, pb);
  EXPECT_EQ(pa.x.leftCols(20 * 30), pb.x.leftCols(20 * 30));
  EXPECT_EQ(pa.y.labels, pb.y.labels);
  // the probe stream is seed_mix(data_seed, 2)
  Rng r = rng_make(seed_mix(3, 2));
  SeqBatch<double> direct;
  temporal_order_generate(r, 20, 30, direct);
  EXPECT_EQ(direct.y.labels, pa.y.labels);
  SeqBatch<double> test;
  seq_sample(a, Split::test, 30, test);
  EXPECT_NE(test.y.labels, pa.y.labels);
  SeqData<double> other = seq_data_make<double>(c, 4);
  SeqBatch<double> po;
  seq_sample(other, Split::probe, 30, po);
  EXPECT_NE(po.y.labels, pa.y.labels);
}

TEST(Tasks, GaussianSequencesHaveTheDocumentedLayout) {
  const Config c = config_of(R"({"model": {"type": "rnn", "width": 4, "length": 6,
      "inputs": "first_step", "loss_at": "every_step"},
      "data": {"name": "gaussian", "dim": 3, "outputs": 2}, "loss": "mse"})");
  SeqData<double> d = seq_data_make<double>(c, 1);
  SeqBatch<double> b;
  seq_sample(d, Split::probe, 5, b);
  EXPECT_EQ(b.steps, 6);
  EXPECT_EQ(b.x.rows(), 3);
  EXPECT_EQ(b.x.cols(), 5);        // first_step: x_1 only
  EXPECT_EQ(b.y.y.cols(), 6 * 5);  // a target per (step, example)
  // draw order: per example, x's entries then its targets t = 1..T
  Rng r = rng_make(seed_mix(1, 2));
  for (Index k = 0; k < 3; ++k) EXPECT_EQ(b.x(k, 0), rng_normal(r));
  for (Index t = 0; t < 6; ++t)
    for (Index k = 0; k < 2; ++k) EXPECT_EQ(b.y.y(k, t * 5 + 0), rng_normal(r));
  EXPECT_EQ(b.x(0, 1), rng_normal(r));

  const Config e = config_of(R"({"model": {"type": "rnn", "width": 4, "length": 400},
      "data": {"name": "gaussian", "dim": 2, "classes": 3}})");
  SeqData<double> de = seq_data_make<double>(e, 1);
  seq_sample(de, Split::train, 50, b);
  EXPECT_EQ(b.x.cols(), 400 * 50);
  EXPECT_EQ(b.y.labels.size(), 50u);
  const double mean = b.x.mean(), var = b.x.squaredNorm() / static_cast<double>(b.x.size());
  EXPECT_NEAR(mean, 0.0, 0.02);
  EXPECT_NEAR(var, 1.0, 0.03);
}

TEST(Tasks, ShortTaskLengthIsAUsageError) {
  // Config validation rejects data.length < 10 (test_config.cpp); a Config built in code is
  // still refused by the generator.
  Config c = config_of(R"({"model": {"type": "rnn", "width": 4},
                            "data": {"name": "temporal_order", "length": 10}})");
  EXPECT_NO_THROW(seq_data_make<double>(c, 1));
  c.data.length = c.model.length = 9;
  EXPECT_THROW(seq_data_make<double>(c, 1), UsageError);
}

// A 24-unit tanh RNN learns addition at L = 10 within a few seconds: its test error is far below
// the best constant prediction's (predicting 0.5 errs on P(|y − 0.5| > 0.2) = 36% of sequences).
TEST(Tasks, SmallRnnLearnsAdditionAtShortLength) {
  RunSpec s{};
  s.id = "run";
  s.point = json::object();
  s.seed = 1;
  s.data_seed = 2;
  s.config = config_of(R"({"model": {"type": "rnn", "width": 24, "activation": "tanh",
        "recurrent_init": {"name": "orthogonal", "gain": 0.9}},
      "data": {"name": "addition", "length": 10, "test_samples": 1000},
      "train": {"steps": 3000, "batch_size": 20, "lr": 0.05, "momentum": 0.9, "clip_norm": 1.0},
      "probe": {"samples": 100, "every": 1000}})");
  const RunResult res = run_rnn<double>(s, "");
  ASSERT_EQ(res.status, "ok") << res.reason;
  const double before = *res.steps.front().test_error, after = *res.steps.back().test_error;
  EXPECT_GT(before, 0.3);
  EXPECT_LT(after, 0.05) << "test error " << before << " → " << after;
  EXPECT_LT(res.steps.back().probe_loss, 0.25 * res.steps.front().probe_loss);
}
