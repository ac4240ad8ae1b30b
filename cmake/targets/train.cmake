# structgan::train — the trainer, its configuration and the run loop (include/structgan/train/).
# Needs structgan::data (readers, loader), structgan::io (checkpoints, PNG samples), nlohmann_json,
# CLI11 (header-only) and Threads. Defined only when all are available. Not LIBLINEAR: a program
# that also evaluates (the examples' end-of-training evaluation) links structgan::eval itself.
find_package(nlohmann_json 3 QUIET)
find_package(Threads)
find_path(STRUCTGAN_CLI11_INCLUDE_DIR CLI/CLI.hpp)
if(NOT TARGET structgan_data OR NOT TARGET structgan_io)
  message(STATUS "structgan: structgan::data or structgan::io missing: structgan::train is not defined")
  return()
endif()
if(NOT nlohmann_json_FOUND OR NOT STRUCTGAN_CLI11_INCLUDE_DIR OR NOT Threads_FOUND)
  message(STATUS "structgan: nlohmann_json, CLI11 (CLI/CLI.hpp) or Threads missing: structgan::train is not defined")
  return()
endif()
add_library(structgan_train INTERFACE)
add_library(structgan::train ALIAS structgan_train)
target_link_libraries(structgan_train INTERFACE structgan::structgan structgan_data structgan_io
                      nlohmann_json::nlohmann_json Threads::Threads)
target_include_directories(structgan_train SYSTEM INTERFACE ${STRUCTGAN_CLI11_INCLUDE_DIR})
message(STATUS "structgan: structgan::train enabled (CLI11 in ${STRUCTGAN_CLI11_INCLUDE_DIR})")
