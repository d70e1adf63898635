// `gradlab collect` (docs/reference.md §5): the combined tables of a result folder rebuilt from
// its complete run folders.
#include <fmt/format.h>

#include <filesystem>

#include "experiments/console.h"
#include "experiments/folder.h"
#include "experiments/sweep.h"
#include "harness/core/io.h"

namespace gl {

namespace fs = std::filesystem;

static std::string body_of(const std::string& csv) {
  const size_t nl = csv.find('\n');
  return nl == std::string::npos ? "" : csv.substr(nl + 1);
}
static std::string header_of(const std::string& csv) {
  const size_t nl = csv.find('\n');
  return nl == std::string::npos ? csv : csv.substr(0, nl + 1);
}

// Up to 10 lines of a list of problems, then how many more.
static void print_some(std::string_view what, const std::vector<std::string>& items) {
  const size_t shown = std::min<size_t>(items.size(), 10);
  for (size_t i = 0; i < shown; ++i) fmt::print(stderr, "  {}: {}\n", what, items[i]);
  if (items.size() > shown)
    fmt::print(stderr, "  ... and {} more {}\n", items.size() - shown, what);
}

int collect_dir(const std::string& dir, bool quiet) {
  const std::string mpath = dir + "/manifest.json";
  if (!fs::is_regular_file(mpath))
    throw UsageError(fmt::format("{}: no manifest.json: not a gradlab result folder", dir));
  FolderLock lock(dir);
  std::vector<std::string> ids;
  try {
    ids = manifest_ids(json::parse(file_read(mpath)));
  } catch (const json::exception& ex) {
    throw UsageError(fmt::format("{}: unreadable manifest: {}", mpath, ex.what()));
  }

  std::array<std::string, tables.size()> headers, bodies;
  std::vector<std::string> missing, failed, diverged;
  for (const std::string& id : ids) {
    const RunState st = run_state(dir, id);
    if (!st.complete) {
      const bool running = fs::exists(tmp_dir(dir, id)) && lease_alive(tmp_dir(dir, id));
      missing.push_back(running ? id + " (running)" : id);
      continue;
    }
    if (!st.ok())
      (st.failed() ? failed : diverged).push_back(fmt::format("{} ({})", id, st.reason));
    for (size_t k = 0; k < tables.size(); ++k) {
      const std::string f = run_dir(dir, id) + "/" + std::string(tables[k].first);
      if (!fs::exists(f)) continue;
      const std::string csv = file_read(f);
      if (headers[k].empty()) headers[k] = header_of(csv);
      bodies[k] += body_of(csv);
    }
  }
  // Each table is replaced atomically; one that no run has rows for goes (left from before a
  // --force, or a header-only file of a run folder written by an older gradlab).
  for (size_t k = 0; k < tables.size(); ++k) {
    const std::string f = dir + "/" + std::string(tables[k].second);
    if (!bodies[k].empty())
      file_write_atomic(f, headers[k] + bodies[k]);
    else
      fs::remove(f);
  }
  const bool trouble = !missing.empty() || !failed.empty() || !diverged.empty();
  if (!quiet || trouble) {
    fmt::print(stderr, "collect {}: {}, {} complete, {} missing, {} failed, {} diverged\n", dir,
               plural(ids.size(), "run"), ids.size() - missing.size(), missing.size(),
               failed.size(), diverged.size());
    print_some("missing", missing);
    print_some("failed", failed);
    print_some("diverged", diverged);
  }
  return trouble ? 1 : 0;
}

}  // namespace gl
