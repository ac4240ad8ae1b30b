#pragma once
/// \file The command line shared by the training examples (CLI11): a preset, a JSON config file,
/// explicit flags and `--set key=value` overrides, applied in that order.
///
/// \code
///   train::CommandLine cl;
///   if (int rc = train::parse_command_line(argc, argv, "fashion_mnist", "Fashion-MNIST training", cl); rc >= 0) return rc;
///   // cl.config is validated; cl.resume, cl.config.device, ...
/// \endcode
#include <deque>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "structgan/core/build_info.hpp"
#include "structgan/train/config.hpp"

namespace structgan::train {

/// What the command line asked for.
struct CommandLine {
  TrainConfig config;
  bool resume = false;
  int progress_tty = -1;  ///< --progress=bar|lines|auto
};

/// Parses argv into `out` (see the file comment for the order of precedence). Returns −1 when
/// training should go on (build_info() printed), else the exit code to return at once (0 after
/// --help, --print-config, --list-keys or --version; 2 after a usage or configuration error, printed on stderr).
/// `allowed` restricts the datasets this program accepts (empty: any).
inline int parse_command_line(int argc, const char* const* argv, const std::string& default_preset,
                              const std::string& description, CommandLine& out,
                              const std::vector<std::string>& allowed = {}) {
  CLI::App app{description};
  std::string preset_name, config_file, progress = "auto";
  std::vector<std::string> sets;
  bool print_config = false, list_keys = false, version = false;
  app.add_option("--preset", preset_name, "preset: " + detail::joined(preset_names(), ", ") + " (default " + default_preset + ")");
  app.add_option("--config", config_file, "JSON file of configuration keys (may name its own \"preset\")");
  app.add_option("--set", sets, "override one key: key=value (repeatable; objective.<key>=value for the objective)");
  app.add_flag("--resume", out.resume, "continue from OUTPUT/checkpoint.ckpt");
  // The keys' own flags (`cli` in the field list): each is a shorthand for --set key=VALUE.
  struct KeyFlag {
    const char* flag;
    std::string key, text;
  };
  std::deque<KeyFlag> key_flags;  // a deque: CLI11 keeps a reference to each text as more are added
  const TrainConfig defaults;
  visit_fields(defaults, [&](const fields::Key& k, const auto&) {
    if (!k.flag) return;
    key_flags.push_back({k.flag, k.name, ""});
    const std::string range = fields::allowed(k);
    app.add_option(k.flag, key_flags.back().text,
                   std::string(k.doc) + " (key " + k.name + (range.empty() ? "" : ": " + range) + ")");
  });
  app.add_option("--progress", progress, "auto | bar | lines")->check(CLI::IsMember({"auto", "bar", "lines"}));
  app.add_flag("--print-config", print_config, "print the effective configuration as JSON and exit");
  app.add_flag("--list-keys", list_keys, "print every configuration key and exit");
  app.add_flag("--version", version, "print the build (version, commit, compiler, flags, backends, threads) and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (version) {
    std::cout << build_info() << "\n";
    return 0;
  }
  if (list_keys) {
    std::cout << describe_keys();
    return 0;
  }
  try {
    TrainConfig c;
    if (!config_file.empty()) {
      c = load_config_file(config_file, preset_name.empty() ? default_preset : preset_name);
      if (!preset_name.empty()) {
        // An explicit --preset wins over the file's, then the file's keys apply on top.
        TrainConfig p = preset(preset_name);
        std::ifstream in(config_file);
        nlohmann::json j = nlohmann::json::parse(in);
        j.erase("preset");
        apply_json(p, j, "train config '" + config_file + "'");
        c = p;
      }
    } else {
      c = preset(preset_name.empty() ? default_preset : preset_name);
    }
    for (const auto& kf : key_flags)
      if (app.count(kf.flag) > 0) fields::set(c, kf.key, kf.text, kf.flag);
    for (const auto& s : sets) apply_override(c, s);
    validate(c);
    require(allowed.empty() || detail::contains(allowed, c.dataset), "this program trains ", detail::joined(allowed, " or "),
            ", not '", c.dataset, "'");
    out.config = c;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
  out.progress_tty = progress == "bar" ? 1 : progress == "lines" ? 0 : -1;
  if (print_config) {
    std::cout << to_json(out.config).dump(2) << "\n";
    return 0;
  }
  std::cout << build_info() << std::endl;  // flushed: the first line of the run's output says which build ran
  return -1;
}

}  // namespace structgan::train
