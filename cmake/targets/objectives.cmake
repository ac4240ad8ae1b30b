# structgan::objectives — the structural objectives (include/structgan/objectives/) with their
# JSON configuration (objectives/options_json.hpp needs nlohmann_json). The objectives themselves
# need only structgan::structgan; this target adds nlohmann_json for the configuration.
find_package(nlohmann_json 3 QUIET)
if(NOT nlohmann_json_FOUND)
  message(STATUS "structgan: nlohmann_json not found: structgan::objectives (JSON configuration) is not defined")
  return()
endif()
add_library(structgan_objectives INTERFACE)
add_library(structgan::objectives ALIAS structgan_objectives)
target_link_libraries(structgan_objectives INTERFACE structgan::structgan nlohmann_json::nlohmann_json)
