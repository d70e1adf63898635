// What this binary was built from (provenance.json) and where its shipped files are. The values
// are written at configure time into one generated file (build_info.cpp.in), so that a new commit
// recompiles that file alone.
#pragma once

namespace gl {

struct BuildInfo {
  const char* version;     // the project's version, e.g. "0.1.0"
  const char* git_commit;  // 12 hex digits, or "unknown" outside a git checkout
  const char* cxx_flags;   // the release flags every source was compiled with
  const char* datadir;     // <install prefix>/share/gradlab
  const char* source_dir;  // the source checkout it was built from
};

extern const BuildInfo build_info;

}  // namespace gl
