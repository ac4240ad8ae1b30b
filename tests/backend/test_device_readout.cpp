// backend/device_readout.hpp: checks of device values read at once or queued and read together
// (issue #24), on the CPU and on the reference device, whose transfers are counted.
#define BOOST_TEST_MODULE backend_device_readout
#include <boost/test/unit_test.hpp>

#include <limits>
#include <string>
#include <vector>

#include "structgan/backend/cpu.hpp"
#include "structgan/backend/device_readout.hpp"
#include "structgan/backend/ref.hpp"

using namespace structgan;

namespace {

template <class T, class D>
Tensor<T, D> values(const std::vector<T>& v) {
  return to_device<D>(from_vector<T>(Shape{static_cast<index_t>(v.size())}, v));
}

template <class T, class D>
double indicator_of(const std::vector<T>& v) {
  return static_cast<double>(to_host(nonfinite_indicator(values<T, D>(v)))[0]);
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

constexpr double inf_ = std::numeric_limits<double>::infinity();
constexpr double nan_ = std::numeric_limits<double>::quiet_NaN();

}  // namespace

using Scalars = std::tuple<float, double>;

BOOST_AUTO_TEST_CASE_TEMPLATE(the_indicator_is_zero_exactly_when_every_entry_is_finite, T, Scalars) {
  const T big = std::numeric_limits<T>::max();
  for (auto f : {&indicator_of<T, Cpu>, &indicator_of<T, Ref>}) {
    BOOST_TEST(f({T(1), T(-2), T(3)}) == 0.0);
    BOOST_TEST(f({big, big, big}) == 0.0);  // a plain sum would overflow to Inf here
    BOOST_TEST(f({}) == 0.0);
    BOOST_TEST(std::isnan(f({T(1), T(nan_), T(3)})));
    BOOST_TEST(std::isnan(f({T(1), T(inf_)})));
    BOOST_TEST(std::isnan(f({T(-inf_), T(0)})));
  }
}

BOOST_AUTO_TEST_CASE(outside_a_scope_a_check_reads_at_once_and_throws_its_message) {
  auto& c = backend::counters(Ref{});
  const auto good = values<double, Ref>({1, 2, 3}), bad = values<double, Ref>({1, nan_, 3});
  c.reset();
  BOOST_CHECK_NO_THROW(require_finite(good, "good"));
  BOOST_TEST(c.to_host == 1u);
  try {
    require_finite(bad, "op: x of shape ", bad.shape(), " has NaN or Inf entries");
    BOOST_FAIL("expected structgan::Error");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()) == "op: x of shape [3] has NaN or Inf entries");
  }
  // On the CPU the host reads the tensor itself: no indicator, same error.
  BOOST_CHECK_THROW(require_finite(values<float, Cpu>({1, float(inf_)}), "cpu"), Error);
  BOOST_CHECK_NO_THROW(require_finite(values<float, Cpu>({1, 2}), "cpu"));
  BOOST_CHECK_NO_THROW(require_finite(Tensor<double, Ref>(), "undefined"));
}

BOOST_AUTO_TEST_CASE(inside_a_scope_checks_and_scalars_are_read_in_one_transfer_first_failure_first) {
  auto& c = backend::counters(Ref{});
  DeviceReadout<double, Ref> readout;
  double loss = 0, norm = 0;
  c.reset();
  {
    DeferredReads<double, Ref> scope(readout);
    BOOST_TEST((DeferredReads<double, Ref>::current() == &readout));
    BOOST_TEST((DeferredReads<float, Ref>::current() == nullptr));  // per scalar type and device
    readout.set_context("iteration 7: ");
    require_finite(values<double, Ref>({1, 2}), "fine");
    require_finite(values<double, Ref>({nan_}), "the batch holds NaN");  // the cause
    require_finite(values<double, Ref>({inf_, 1}), "the loss is Inf");   // a consequence
    require_zero_on_device(values<double, Ref>({0}), "a factorization");
    readout.add(&loss, values<double, Ref>({2.5}));
    readout.add(&norm, values<double, Ref>({4}));
  }
  BOOST_TEST((DeferredReads<double, Ref>::current() == nullptr));
  BOOST_TEST(c.to_host == 0u);  // nothing read while queued
  BOOST_TEST(readout.checks() == 4u);
  BOOST_TEST(readout.scalars() == 2u);
  const auto failed = readout.read();
  BOOST_TEST(c.to_host == 1u);
  BOOST_REQUIRE(failed.has_value());
  BOOST_TEST(*failed == "iteration 7: the batch holds NaN");
  BOOST_TEST(loss == 2.5);
  BOOST_TEST(norm == 4.0);
  BOOST_TEST(readout.empty());
  BOOST_TEST(!readout.read().has_value());  // empty: nothing read
  BOOST_TEST(c.to_host == 1u);
}

BOOST_AUTO_TEST_CASE(scopes_nest_and_restore) {
  DeviceReadout<float, Ref> outer, inner;
  {
    DeferredReads<float, Ref> a(outer);
    {
      DeferredReads<float, Ref> b(inner);
      require_finite(values<float, Ref>({1}), "inner");
    }
    require_zero_on_device(values<float, Ref>({1}), "outer: not zero");
  }
  BOOST_TEST(inner.checks() == 1u);
  BOOST_TEST(outer.checks() == 1u);
  BOOST_TEST(!inner.read().has_value());
  const auto failed = outer.read();
  BOOST_REQUIRE(failed.has_value());
  BOOST_TEST(has(*failed, "outer: not zero"));
}

BOOST_AUTO_TEST_CASE(shapes_are_checked) {
  DeviceReadout<double, Ref> r;
  double x = 0;
  BOOST_CHECK_THROW(r.add(&x, values<double, Ref>({1, 2})), Error);
  BOOST_CHECK_THROW(r.check(values<double, Ref>({}), "empty"), Error);
  BOOST_CHECK_THROW(require_zero_on_device(values<double, Ref>({0, 0}), "two values"), Error);
}
