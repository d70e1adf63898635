// Experiments, the checks around the grid: common random numbers (seeds shared across chosen
// axes), labels as run ids write them, --only keys (repeat, rep, variants, suggestions), data
// files resolved against the config's folder and checked before anything runs, and the --set
// arguments in the manifest.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "experiments/grid.h"
#include "tests/grid_test_util.h"

namespace gl {
namespace {

// ---- common random numbers ----

const char* const lr_grid = R"("grid": {"train.lr": [0.01, 0.1], "model.depth": [2, 3]})";

TEST_F(Grid, CommonRandomNumbersShareTheSeedAlongTheirAxes) {
  const Experiment e =
      load(cfg(std::string(lr_grid) + R"(, "common_random_numbers": ["train.lr"])"));
  ASSERT_EQ(e.runs.size(), 4u);  // lr slowest: (0.01, 2), (0.01, 3), (0.1, 2), (0.1, 3)
  EXPECT_EQ(e.runs[0].seed, e.runs[2].seed);  // the same depth, another lr: the same seed
  EXPECT_EQ(e.runs[1].seed, e.runs[3].seed);
  EXPECT_NE(e.runs[0].seed, e.runs[1].seed);  // another depth: another seed
  EXPECT_EQ(e.runs[0].seed, run_seed(0, json::parse(R"({"model.depth": 2})"), 0));
  EXPECT_EQ(ids(e), (std::vector<std::string>{"lr=0.01,depth=2", "lr=0.01,depth=3",
                                              "lr=0.1,depth=2", "lr=0.1,depth=3"}));
  EXPECT_EQ(e.common, std::vector<std::string>{"train.lr"});

  // Without the key every point has its own seed (the rule of docs/reference.md §3 Seeds).
  const Experiment plain = load(cfg(lr_grid));
  EXPECT_NE(plain.runs[0].seed, plain.runs[2].seed);
  EXPECT_EQ(plain.runs[0].seed,
            run_seed(0, json::parse(R"({"train.lr": 0.01, "model.depth": 2})"), 0));
  EXPECT_NE(plain.hash, e.hash);  // another experiment
}

TEST_F(Grid, CommonRandomNumbersTakeVariantsAndEveryAxis) {
  const Experiment e = load(cfg(R"("repeats": 2,
      "grid": {"variants": [{"label": "a"}, {"label": "b", "train": {"lr": 0.5}}]},
      "common_random_numbers": ["variants"])"));
  ASSERT_EQ(e.runs.size(), 4u);
  EXPECT_EQ(e.runs[0].seed, e.runs[2].seed);  // repeat 0 of a and of b
  EXPECT_EQ(e.runs[1].seed, e.runs[3].seed);
  EXPECT_NE(e.runs[0].seed, e.runs[1].seed);  // repeats stay independent
  EXPECT_EQ(e.runs[0].seed, run_seed(0, json::object(), 0));
  // --set reaches it as any other top-level key.
  const Experiment s = load(cfg(lr_grid), {R"(common_random_numbers=["train.lr"])"});
  EXPECT_EQ(s.runs[0].seed, s.runs[2].seed);
}

TEST_F(Grid, CommonRandomNumbersMustNameGridAxes) {
  EXPECT_EQ(
      errors(cfg(std::string(lr_grid) +
                 R"(, "common_random_numbers": ["train.lrr", 3, "model.depth", "model.depth"])")),
      (std::vector<std::string>{
          R"(/common_random_numbers/0: expected a grid axis (one of train.lr, model.depth), found "train.lrr" (did you mean "train.lr"?))",
          R"(/common_random_numbers/1: expected a grid axis (one of train.lr, model.depth), found 3)",
          R"(/common_random_numbers/3: duplicate of "model.depth")"}));
  EXPECT_EQ(
      errors(cfg(R"("common_random_numbers": "train.lr")")),
      std::vector<std::string>{
          R"(/common_random_numbers: expected a list of grid axes (e.g. ["train.lr"]), found "train.lr")"});
  EXPECT_EQ(
      errors(cfg(R"("common_random_numbers": ["train.lr"])")),
      std::vector<std::string>{
          R"(/common_random_numbers/0: expected a grid axis (the config has no grid), found "train.lr")"});
  EXPECT_EQ(errors(cfg(R"("grid": {"common_random_numbers": [[], ["seed"]]})")),
            std::vector<std::string>{"/grid/common_random_numbers: cannot be a grid axis"});
}

// ---- labels: one spelling in ids, folders, --only and tables ----

TEST_F(Grid, LabelsHoldOnlyCharactersRunIdsKeep) {
  EXPECT_EQ(
      errors(cfg(R"("grid": {"variants": [{"label": "relu/he_normal"}, {"label": "a b"},
                                          {"label": "relu+he_normal.2-x_Y"}, {"label": "σ=1"}]})")),
      (std::vector<std::string>{
          R"(/grid/variants/0/label: "relu/he_normal" holds "/": a label is written as it is in run ids, folder names, --only and tables, so it may hold only letters, digits and ".", "_", "+", "-" (e.g. "relu+he_normal"))",
          R"(/grid/variants/1/label: "a b" holds " ": a label is written as it is in run ids, folder names, --only and tables, so it may hold only letters, digits and ".", "_", "+", "-" (e.g. "relu+he_normal"))",
          R"(/grid/variants/3/label: "σ=1" holds "σ": a label is written as it is in run ids, folder names, --only and tables, so it may hold only letters, digits and ".", "_", "+", "-" (e.g. "relu+he_normal"))"}));
}

TEST_F(Grid, VariantsAxisIsCalledVariantsInIdsAndOnly) {
  const std::string text = cfg(
      R"("repeats": 2, "grid": {"variants": [{"label": "tanh+glorot"}, {"label": "relu+he"}]})");
  const Experiment e = load(text, {}, {"variants=relu+he"});
  EXPECT_EQ(ids(e), (std::vector<std::string>{"variants=relu+he,rep=0", "variants=relu+he,rep=1"}));
  EXPECT_EQ(
      errors(text, {}, {"variant=relu+he"}),
      std::vector<std::string>{
          R"(--only variant=relu+he: unknown key (did you mean "variants"?); expected one of variants, repeat, rep)"});
}

// ---- --only repeat=R, rep=R ----

TEST_F(Grid, OnlySelectsRepeats) {
  const std::string text = cfg(R"("repeats": 3, "grid": {"model.depth": [1, 2]})");
  const Experiment a = load(text, {}, {"rep=1"});
  EXPECT_EQ(ids(a), (std::vector<std::string>{"depth=1,rep=1", "depth=2,rep=1"}));
  EXPECT_EQ(a.runs[1].index, 4);
  const Experiment b = load(text, {}, {"repeat=0", "repeat=2", "depth=2"});
  EXPECT_EQ(ids(b), (std::vector<std::string>{"depth=2,rep=0", "depth=2,rep=2"}));
  const Experiment c = load(cfg(R"("repeats": 2)"), {}, {"rep=1"});  // no grid
  EXPECT_EQ(ids(c), std::vector<std::string>{"rep=1"});
  EXPECT_EQ(errors(text, {}, {"rep=3", "repeat=x"}),
            (std::vector<std::string>{"--only rep=3: expected a repeat in 0..2, found 3",
                                      "--only repeat=x: expected a repeat in 0..2, found x"}));
}

// ---- data files ----

const char* const idx_data = R"("data": {"name": "idx", "train_images": "d/train-images.gz",
    "train_labels": "d/train-labels.gz", "test_images": "d/t10k-images.gz",
    "test_labels": "/nonexistent/t10k-labels.gz"})";

TEST_F(Grid, DataPathsAreRelativeToTheConfigFolder) {
  std::filesystem::create_directories(dir / "sub" / "d");
  for (const char* f : {"train-images.gz", "train-labels.gz", "t10k-images.gz"})
    std::ofstream(dir / "sub" / "d" / f) << "x";
  const std::string text = R"({"model": {"depth": 2, "width": 3}, )" + std::string(idx_data) + "}";
  const std::string path = write("sub/x.json", text);
  std::vector<std::string> lines;
  try {
    experiment_load(path, {}, {});
  } catch (const ConfigError& e) {
    lines = e.lines;
  }
  // Only the file that does not exist; the relative ones are found beside the config.
  EXPECT_EQ(
      lines,
      std::vector<std::string>{
          path +
          R"(: /data/test_labels: cannot read "/nonexistent/t10k-labels.gz": No such file or directory)"});

  // The same file set with --set: relative to the config's folder too; the resolved config holds
  // absolute paths.
  const std::string abs = (dir / "sub" / "d").string();
  const Experiment e = experiment_load(path, {"data.test_labels=d/train-labels.gz"}, {});
  EXPECT_EQ(e.runs[0].config.data.train_images, abs + "/train-images.gz");
  EXPECT_EQ(e.runs[0].config.data.test_labels, abs + "/train-labels.gz");
  EXPECT_EQ(e.runs[0].resolved["data"]["test_images"], abs + "/t10k-images.gz");
  EXPECT_EQ(e.sets, std::vector<std::string>{"data.test_labels=d/train-labels.gz"});
}

TEST_F(Grid, MissingDataFilesAreReportedAllAtOnceWhereWritten) {
  const std::string text = R"({"model": {"depth": 2, "width": 3}, )" + std::string(idx_data) +
                           R"(, "grid": {"data.train_images": ["d/a.gz", "d/b.gz"]}})";
  const std::string d = (dir / "d").string();
  EXPECT_EQ(
      errors(text),
      (std::vector<std::string>{
          R"(/grid/data.train_images/0: cannot read ")" + d +
              R"(/a.gz": No such file or directory)",
          R"(/data/train_labels: cannot read ")" + d +
              R"(/train-labels.gz": No such file or directory)",
          R"(/data/test_images: cannot read ")" + d +
              R"(/t10k-images.gz": No such file or directory)",
          R"(/data/test_labels: cannot read "/nonexistent/t10k-labels.gz": No such file or directory)",
          R"(/grid/data.train_images/1: cannot read ")" + d +
              R"(/b.gz": No such file or directory)"}));
  std::filesystem::create_directories(dir / "folder.gz");
  EXPECT_EQ(errors(R"({"model": {"depth": 2, "width": 3}, "data": {"name": "idx",
      "train_images": "folder.gz", "train_labels": "folder.gz", "test_images": "folder.gz",
      "test_labels": "folder.gz"}})")[0],
            R"(/data/train_images: cannot read ")" + (dir / "folder.gz").string() +
                R"(": Is a directory)");
}

TEST_F(Grid, FashionMnistWithoutItsFilesIsAConfigError) {
  const std::string nowhere = (dir / "nowhere").string();
  ::setenv("GRADLAB_FASHION_MNIST_DIR", nowhere.c_str(), 1);
  const auto lines =
      errors(R"({"model": {"depth": 2, "width": 3}, "data": {"name": "fashion_mnist"}})");
  ::unsetenv("GRADLAB_FASHION_MNIST_DIR");
  EXPECT_EQ(lines, std::vector<std::string>{
                       "/data/name: Fashion-MNIST not found: no folder " + nowhere +
                       " (from $GRADLAB_FASHION_MNIST_DIR); install the Debian package "
                       "dataset-fashion-mnist (apt-get install dataset-fashion-mnist)"});
}

// ---- the manifest records --set ----

TEST_F(Grid, ManifestRecordsTheSetArgumentsAsGiven) {
  const Experiment plain = load(cfg(R"("seed": 1)"));
  EXPECT_EQ(experiment_to_json(plain)["set"], json::array());
  const Experiment set = load(cfg(R"("seed": 1)"), {"model.width=5", "train.lr=0.5"});
  EXPECT_EQ(experiment_to_json(set)["set"], json::parse(R"(["model.width=5", "train.lr=0.5"])"));
  // The hash is the resolved config's: the same config written out has the same hash.
  const Experiment direct = load(R"({"model": {"depth": 2, "width": 5}, "data": {"dim": 4},
      "seed": 1, "train": {"lr": 0.5}})");
  EXPECT_EQ(set.hash, direct.hash);
  EXPECT_NE(set.hash, plain.hash);
}

}  // namespace
}  // namespace gl
