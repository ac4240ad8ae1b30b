# structgan::io — files (include/structgan/io/): atomic writes, checkpoints (a JSON manifest, with
# nlohmann_json, plus binary blobs), .npy, .npz (zlib: np.savez_compressed deflates its members), and PNG
# (stb_image_write's header).
find_package(nlohmann_json 3 QUIET)
find_package(ZLIB QUIET)
find_path(STRUCTGAN_STB_WRITE_INCLUDE_DIR stb_image_write.h PATH_SUFFIXES stb DOC "Folder holding stb_image_write.h")
if(NOT nlohmann_json_FOUND)
  message(STATUS "structgan: nlohmann_json not found: structgan::io (checkpoints) is not defined")
  return()
endif()
if(NOT STRUCTGAN_STB_WRITE_INCLUDE_DIR)
  message(STATUS "structgan: stb_image_write.h not found (Debian: libstb-dev): structgan::io (PNG) is not defined")
  return()
endif()
if(NOT ZLIB_FOUND)
  message(STATUS "structgan: zlib not found (Debian: zlib1g-dev): structgan::io (.npz) is not defined")
  return()
endif()
add_library(structgan_io INTERFACE)
add_library(structgan::io ALIAS structgan_io)
target_link_libraries(structgan_io INTERFACE structgan::structgan nlohmann_json::nlohmann_json ZLIB::ZLIB)
# SYSTEM: stb's own warnings are not ours.
target_include_directories(structgan_io SYSTEM INTERFACE ${STRUCTGAN_STB_WRITE_INCLUDE_DIR})
message(STATUS "structgan: structgan::io enabled (nlohmann_json ${nlohmann_json_VERSION}, stb_image_write in ${STRUCTGAN_STB_WRITE_INCLUDE_DIR})")
