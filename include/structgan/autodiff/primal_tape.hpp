#pragma once
/// \file PrimalTape: the primal values of one dual pass, handed back to a second pass of the same
/// code, so that the second pass computes tangents only.
///
/// Why: the regularizer's last power-iteration step (SPEC §4) runs f on x for the VJP uᵀJ, then
/// σ's recorded dual pass runs f on (x, v): both compute the same primal values. With a tape
/// recording, every dual op stores its primal result; with the tape replaying, every dual op
/// takes that result back instead of computing it again (one forward pass of D fewer per step).
///
/// The contract: both passes run the same code on DualTensor values, with equal primal inputs
/// and parameters, so the dual ops come in the same order; a dual op's primal depends on primal
/// inputs only, and its tangent branch uses value-type ops, never dual ops (so whether a tangent
/// is present does not change the order). Each value is stored with the type of the lambda that
/// computed it, which names the op's source line and instantiation: a replaying pass that reaches
/// another op than the one recorded, asks for more values than were recorded, or leaves some
/// unused, throws structgan::Error.
#include <any>
#include <cstddef>
#include <typeindex>
#include <typeinfo>
#include <utility>
#include <vector>

#include "structgan/core/error.hpp"

namespace structgan {

class PrimalTape {
 public:
  enum class Mode { Record, Replay };

 private:
  struct Slot {
    PrimalTape* tape = nullptr;
    Mode mode = Mode::Record;
  };
  static Slot& active_slot() {
    thread_local Slot slot;
    return slot;
  }
  struct Entry {
    std::type_index site;  ///< the type of the computing lambda: one per dual op and instantiation
    std::any value;
  };
  std::vector<Entry> values_;
  std::size_t next_ = 0;

 public:
  /// Recorded values not yet replayed.
  std::size_t pending() const { return values_.size() - next_; }
  std::size_t size() const { return values_.size(); }
  void clear() {
    values_.clear();
    next_ = 0;
  }

  /// The calling thread's active tape and its mode (nullptr: none).
  static PrimalTape* active() { return active_slot().tape; }

  /// The primal value of a dual op: compute() when no tape is active; else compute() stored on
  /// the tape (Record) or the next stored value (Replay).
  template <class F>
  static auto value(F&& compute) -> decltype(compute()) {
    using R = decltype(compute());
    Slot& s = active_slot();
    if (!s.tape) return compute();
    if (s.mode == Mode::Record) {
      // The tape is off while compute() runs: a dual op inside it is part of this value.
      PrimalTape* tape = std::exchange(s.tape, nullptr);
      struct On {
        Slot& s;
        PrimalTape* t;
        ~On() { s.tape = t; }
      } on{s, tape};
      R r = compute();
      tape->values_.push_back(Entry{std::type_index(typeid(F)), r});
      return r;
    }
    PrimalTape& t = *s.tape;
    require(t.next_ < t.values_.size(), "PrimalTape: the replaying pass asks for value ", t.next_ + 1, " but only ",
            t.values_.size(), " were recorded (the two passes ran different code)");
    const Entry& e = t.values_[t.next_];
    const R* r = std::any_cast<R>(&e.value);
    require(r != nullptr && e.site == std::type_index(typeid(F)), "PrimalTape: value ", t.next_ + 1,
            " was recorded by another op (the two passes ran different code)");
    ++t.next_;
    return *r;
  }

  /// While alive, `tape` is the calling thread's active tape in `mode`. Replay starts from the
  /// first recorded value; the scope restores the previous tape (scopes nest).
  class Scope {
   public:
    Scope(PrimalTape& tape, Mode mode) : previous_(active_slot()) {
      if (mode == Mode::Record) tape.clear();
      tape.next_ = 0;
      active_slot() = Slot{&tape, mode};
    }
    ~Scope() { active_slot() = previous_; }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Slot previous_;
  };

  /// After a replaying pass: every recorded value was used, else structgan::Error.
  void require_replayed(const char* op) const {
    require(next_ == values_.size(), op, ": the replaying pass used ", next_, " of ", values_.size(),
            " recorded primal values (the two passes ran different code)");
  }
};

/// The primal of a dual op (see PrimalTape): `V y = primal_value([&] { return op(x.primal); });`
template <class F>
auto primal_value(F&& compute) -> decltype(compute()) {
  return PrimalTape::value(std::forward<F>(compute));
}

}  // namespace structgan
