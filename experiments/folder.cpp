#include "experiments/folder.h"

#include <fmt/format.h>
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness/core/io.h"

namespace gl {

namespace fs = std::filesystem;

// ---- writing files ----

void write_file(const std::string& path, std::string_view data, bool sync) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw EnvError(fmt::format("{}: cannot write: {}", path, std::strerror(errno)));
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      throw EnvError(fmt::format("{}: cannot write: {}", path, std::strerror(err)));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  const bool synced = !sync || ::fsync(fd) == 0;
  if (::close(fd) != 0 || !synced)
    throw EnvError(fmt::format("{}: cannot write: {}", path, std::strerror(errno)));
}

// ---- paths and run states ----

std::string run_dir(const std::string& out, const std::string& id) { return out + "/runs/" + id; }

std::string tmp_dir(const std::string& out, const std::string& id) {
  return out + "/runs/" + std::string(tmp_prefix) + id;
}

RunState run_state(const std::string& out, const std::string& id) {
  const std::string f = run_dir(out, id) + "/summary.json";
  if (!fs::exists(f)) return {};
  try {
    const json sm = json::parse(file_read(f));
    return {true, sm.value("status", "failed"), sm.value("reason", "")};
  } catch (const std::exception&) {
    return {true, "failed", "unreadable summary.json"};
  }
}

// ---- leases: who is running a temporary run folder ----

static std::string host_name() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  return host;
}

static int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A process's start time (clock ticks since boot, field 22 of /proc/<pid>/stat), so that an
// unrelated process that reuses a dead sweep's pid does not keep its lease alive; 0 if unknown.
static int64_t process_start(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return 0;
  const size_t paren = line.rfind(')');  // the command name may hold spaces and parentheses
  if (paren == std::string::npos) return 0;
  std::istringstream fields(line.substr(paren + 1));
  std::string field;
  for (int k = 3; k <= 22 && fields >> field; ++k)
    if (k == 22) return std::strtoll(field.c_str(), nullptr, 10);
  return 0;
}

static constexpr int64_t lease_stale_s = 300;  // another host's lease unrefreshed this long

void write_lease(const std::string& tmp) {
  const int pid = getpid();
  const json lease = {
      {"host", host_name()}, {"pid", pid}, {"start", process_start(pid)}, {"time", now_seconds()}};
  const std::string path = tmp + "/lease.json";
  write_file(path + ".tmp", lease.dump() + "\n", false);
  if (::rename((path + ".tmp").c_str(), path.c_str()) != 0)
    throw EnvError(fmt::format("{}: cannot write: {}", path, std::strerror(errno)));
}

bool lease_alive(const std::string& tmp) {
  json lease;
  try {
    lease = json::parse(file_read(tmp + "/lease.json"));
  } catch (const std::exception&) {
    return false;
  }
  if (!lease.is_object()) return false;
  if (lease.value("host", "") != host_name())
    return now_seconds() - lease.value("time", int64_t{0}) < lease_stale_s;
  const int pid = lease.value("pid", 0);
  if (pid <= 0 || pid == getpid()) return false;  // our own pid: left by an earlier life of it
  if (::kill(pid, 0) != 0 && errno != EPERM) return false;
  const int64_t start = lease.value("start", int64_t{0}), now = process_start(pid);
  return start == 0 || now == 0 || start == now;
}

std::vector<std::string> manifest_ids(const json& m) {
  std::vector<std::string> ids;
  for (const json& r : m.at("runs")) ids.push_back(r.at("id").get<std::string>());
  return ids;
}

}  // namespace gl
