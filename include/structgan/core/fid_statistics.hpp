#pragma once
/// \file The statistics FID compares (pytorch-fid's `mu` and `sigma`): computed by eval/ (image_metrics.hpp),
/// read and written as .npz statistics files by io/ (npz.hpp), so the type lives below both.
#include <Eigen/Core>

namespace structgan {

/// The mean (D) and covariance (D×D, normalized by N − 1 as np.cov) of N×D features.
struct FidStatistics {
  Eigen::VectorXd mu;
  Eigen::MatrixXd sigma;
};

}  // namespace structgan
