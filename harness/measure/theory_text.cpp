// The text of `gradlab theory`: the per-layer table and the fixed-point lines, with each note in
// words where a quantity is not a finite number (docs/reference.md §4.3).
#include <fmt/format.h>

#include <cmath>
#include <iterator>

#include "harness/measure/theory.h"

namespace gl {

std::string theory_table(const TheoryLayers& t) {
  // q_l = +inf: the length map overflowed a double (q_l > 1.8e308), said so in words.
  const auto cell = [](double v) {
    return std::isinf(v) ? fmt::format("{:>13}", "overflow") : fmt::format("{:>13.6e}", v);
  };
  std::string s = fmt::format("{:>5}  {:>13}  {:>13}\n", "layer", "q", "chi");
  for (size_t l = 0; l < t.q.size(); ++l)
    fmt::format_to(std::back_inserter(s), "{:>5}  {}  {}\n", l + 1, cell(t.q[l]),
                   l < t.chi.size() ? cell(t.chi[l]) : fmt::format("{:>13}", "-"));
  return s;
}

namespace {

// "name = value", or where the field has a note: the value in words and the note (a finite value
// keeps its number, the note in parentheses). inf_word names an infinite value ("none" for q*,
// "infinite" for a depth scale).
std::string fixed_line(const char* name, double v, int digits, const std::string& note,
                       const char* inf_word = "infinite") {
  const std::string head = fmt::format("{:<13} = ", name);
  if (note.empty()) return head + fmt::format("{:.{}g}\n", v, digits);
  if (std::isfinite(v)) return head + fmt::format("{:.{}g}  ({})\n", v, digits, note);
  return head + fmt::format("{}: {}\n", std::isnan(v) ? "none" : inf_word, note);
}

}  // namespace

std::string theory_fixed_text(const TheoryFixed& t) {
  const TheoryNotes& n = t.notes;
  std::string grad = n.xi_grad;
  if (grad.empty() && std::isfinite(t.xi_grad))
    grad = t.xi_grad > 0 ? fmt::format(
                               "chi1 < 1: E||delta_l||^2 shrinks e-fold every {:.3g} "
                               "layers towards the input",
                               t.xi_grad)
                         : fmt::format(
                               "negative: chi1 > 1, E||delta_l||^2 grows e-fold every "
                               "{:.3g} layers towards the input",
                               -t.xi_grad);
  return fixed_line("q_star", t.q_star, 10, n.q_star, "none") +
         fixed_line("chi1", t.chi1, 10, n.chi1) + fixed_line("xi_q", t.xi_q, 6, n.xi_q) +
         fixed_line("xi_c", t.xi_c, 6, n.xi_c) + fixed_line("xi_grad", t.xi_grad, 6, grad) +
         fixed_line("sigma_w2_crit", t.sigma_w2_crit, 10, n.sigma_w2_crit) +
         fixed_line("c_star", t.c_star, 10, n.c_star);
}

std::vector<std::pair<std::string, std::string>> theory_notes_list(const TheoryNotes& n) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, note] : {std::pair<const char*, const std::string*>{"q_star", &n.q_star},
                                   {"chi1", &n.chi1},
                                   {"xi_q", &n.xi_q},
                                   {"xi_c", &n.xi_c},
                                   {"xi_grad", &n.xi_grad},
                                   {"sigma_w2_crit", &n.sigma_w2_crit},
                                   {"c_star", &n.c_star}})
    if (!note->empty()) out.emplace_back(name, *note);
  return out;
}

}  // namespace gl
