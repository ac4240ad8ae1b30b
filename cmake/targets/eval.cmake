# structgan::eval — evaluation (SPEC §6): LIBLINEAR for the SVM, nlohmann-json for reports. (Files —
# .npy, .npz, PNG — are structgan::io's.) Defined only when LIBLINEAR is found; tests, examples and
# benchmarks of the eval area check for the target.
find_path(STRUCTGAN_LIBLINEAR_INCLUDE_DIR linear.h PATH_SUFFIXES liblinear)
find_library(STRUCTGAN_LIBLINEAR_LIBRARY NAMES linear liblinear)
find_package(nlohmann_json 3 QUIET)
if(NOT STRUCTGAN_LIBLINEAR_INCLUDE_DIR OR NOT STRUCTGAN_LIBLINEAR_LIBRARY)
  message(STATUS "structgan: LIBLINEAR not found (linear.h / liblinear): structgan::eval is not defined")
elseif(NOT nlohmann_json_FOUND)
  message(STATUS "structgan: nlohmann_json not found: structgan::eval is not defined")
else()
  add_library(structgan_eval INTERFACE)
  add_library(structgan::eval ALIAS structgan_eval)
  target_link_libraries(structgan_eval INTERFACE structgan::structgan ${STRUCTGAN_LIBLINEAR_LIBRARY}
                        nlohmann_json::nlohmann_json)
  target_include_directories(structgan_eval SYSTEM INTERFACE ${STRUCTGAN_LIBLINEAR_INCLUDE_DIR})
  message(STATUS "structgan: structgan::eval with ${STRUCTGAN_LIBLINEAR_LIBRARY}")
endif()
