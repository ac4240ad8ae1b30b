#define BOOST_TEST_MODULE eval_protocol
#include <boost/test/unit_test.hpp>

#include "structgan/eval/protocol.hpp"
#include "synthetic.hpp"

namespace ev = structgan::eval;

namespace {
void split(const evtest::Clusters& all, Eigen::Index n_train, ev::RowMatrixF& trx, std::vector<int>& tr_y,
           ev::RowMatrixF& tex, std::vector<int>& te_y) {
  trx = all.x.topRows(n_train);
  tex = all.x.bottomRows(all.x.rows() - n_train);
  tr_y.assign(all.labels.begin(), all.labels.begin() + n_train);
  te_y.assign(all.labels.begin() + n_train, all.labels.end());
}
}  // namespace

BOOST_AUTO_TEST_CASE(separated_clusters_give_a_perfect_row) {
  ev::RowMatrixF trx, tex;
  std::vector<int> tr_y, te_y;
  split(evtest::sphere_clusters(4, 100, 32, 0.05f, 41), 200, trx, tr_y, tex, te_y);
  ev::ProtocolOptions o;
  o.kmeans.repeats = 3;
  const ev::Table1Row row = ev::evaluate_representation(trx, tr_y, tex, te_y, o, "toy");
  BOOST_CHECK_EQUAL(row.train_samples, 200);
  BOOST_CHECK_EQUAL(row.test_samples, 200);
  BOOST_CHECK_EQUAL(row.dims, 32);
  BOOST_CHECK_EQUAL(row.classes, 4);
  BOOST_CHECK_EQUAL(*row.svm_accuracy, 1.0);
  BOOST_CHECK_EQUAL(*row.kmeans_mean, 1.0);
  BOOST_CHECK_EQUAL(*row.kmeans_std, 0.0);
  BOOST_CHECK_CLOSE_FRACTION(*row.nmi, 1.0, 1e-12);
  BOOST_CHECK_CLOSE_FRACTION(*row.ari, 1.0, 1e-12);
  BOOST_CHECK_EQUAL(*row.knn_accuracy, 1.0);
  BOOST_CHECK_EQUAL(row.kmeans_accuracies.size(), 3u);
  const nlohmann::json j = row.to_json();
  BOOST_CHECK_EQUAL(j.at("name").get<std::string>(), "toy");
  BOOST_CHECK_EQUAL(j.at("svm_accuracy").get<double>(), 1.0);
  BOOST_CHECK_EQUAL(j.at("kmeans_repeats").get<int>(), 3);
  BOOST_CHECK_EQUAL(j.at("kmeans_restarts").get<int>(), 5);
  // the JSON survives a text round trip
  BOOST_CHECK(nlohmann::json::parse(j.dump()) == j);
  const std::string table = ev::format_table({row});
  BOOST_CHECK(table.find("| toy ") != std::string::npos);
  BOOST_CHECK(table.find("100.00 (0.00)") != std::string::npos);
  BOOST_CHECK(table.find("1.0000") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(parts_can_be_switched_off_and_agree_with_the_parts) {
  ev::RowMatrixF trx, tex;
  std::vector<int> tr_y, te_y;
  split(evtest::sphere_clusters(3, 120, 8, 0.7f, 42), 180, trx, tr_y, tex, te_y);  // overlapping: not 100%
  ev::ProtocolOptions o;
  o.run_svm = false;
  o.kmeans.repeats = 2;
  const ev::Table1Row row = ev::evaluate_representation(trx, tr_y, tex, te_y, o);
  BOOST_CHECK(!row.svm_accuracy);
  BOOST_CHECK(row.to_json().at("svm_accuracy").is_null());
  BOOST_CHECK(ev::format_table({row}).find("| -   ") != std::string::npos);
  BOOST_CHECK_CLOSE_FRACTION(*row.knn_accuracy, ev::knn_accuracy(trx, tr_y, tex, te_y), 1e-12);
  BOOST_CHECK_CLOSE_FRACTION(*row.kmeans_mean, ev::kmeans_protocol(tex, te_y, o.kmeans).accuracy_mean, 1e-12);
  BOOST_CHECK_LT(*row.knn_accuracy, 1.0);
  BOOST_CHECK_GT(*row.knn_accuracy, 0.5);
}

BOOST_AUTO_TEST_CASE(rejects_mismatched_input) {
  ev::RowMatrixF a = ev::RowMatrixF::Random(10, 4), b = ev::RowMatrixF::Random(10, 5);
  const std::vector<int> y{0, 1, 0, 1, 0, 1, 0, 1, 0, 1};
  BOOST_CHECK_THROW(ev::evaluate_representation(a, y, b, y), structgan::Error);
  BOOST_CHECK_THROW(ev::evaluate_representation(a, y, a, {0, 1}), structgan::Error);
}
