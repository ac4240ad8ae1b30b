#pragma once
/// Shared by the distributed tests: the job's communicator and each rank's rows of a batch.
#include <algorithm>
#include <memory>

#include "structgan/autodiff.hpp"
#include "structgan/distributed/world.hpp"

namespace structgan::distributed_test {

/// The job's communicator, made once per process (MPI may be initialized only once); a
/// BOOST_TEST_GLOBAL_FIXTURE.
struct World {
  World() { comm() = distributed::make_communicator(); }
  ~World() { comm().reset(); }
  static std::unique_ptr<distributed::Communicator>& comm() {
    static std::unique_ptr<distributed::Communicator> c;
    return c;
  }
};
inline distributed::Communicator& world() { return *World::comm(); }

/// Rank `rank`'s rows of n: contiguous, the first n mod size ranks one row more.
struct Rows {
  index_t begin, count;
};
inline Rows rows_of(index_t n, const distributed::Communicator& c) {
  const index_t base = n / c.size(), extra = n % c.size();
  return {c.rank() * base + std::min<index_t>(c.rank(), extra), base + (c.rank() < extra ? 1 : 0)};
}
/// This rank's rows of x (a copy).
inline Tensor<double, Cpu> own_rows(const Tensor<double, Cpu>& x, const distributed::Communicator& c) {
  const Rows r = rows_of(x.dim(0), c);
  return clone(slice(x, 0, r.begin, r.count));
}

}  // namespace structgan::distributed_test
