# cmake -P script: install, then configure/build/run two consumer projects.
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed: ${ARGN}\n${out}\n${err}")
  endif()
endfunction()
# 1. find_package against an installed copy (a fresh configure of the library alone).
run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/lib -G ${GENERATOR} -DSTRUCTGAN_CUDA=OFF
    -DSTRUCTGAN_BUILD_TESTS=OFF -DSTRUCTGAN_BUILD_EXAMPLES=OFF -DSTRUCTGAN_BUILD_BENCHMARKS=OFF)
run(${CMAKE_COMMAND} --install ${WORK_DIR}/lib --prefix ${WORK_DIR}/prefix)
if(NOT EXISTS ${WORK_DIR}/prefix/include/structgan/structgan.hpp)
  message(FATAL_ERROR "install did not copy the headers")
endif()
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/package/consumer -B ${WORK_DIR}/consumer -G ${GENERATOR}
    -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer)
run(${WORK_DIR}/consumer/consumer)
# 2. add_subdirectory: the library's tests must not be pulled into the parent project.
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/package/consumer -B ${WORK_DIR}/subdir -G ${GENERATOR}
    -DSTRUCTGAN_SOURCE_DIR=${SOURCE_DIR} -DCMAKE_BUILD_TYPE=Release -DSTRUCTGAN_CUDA=OFF)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/subdir)
run(${WORK_DIR}/subdir/consumer)
if(EXISTS ${WORK_DIR}/subdir/structgan/tests)
  message(FATAL_ERROR "add_subdirectory built structgan's tests in a parent project")
endif()
message(STATUS "package consumer: find_package and add_subdirectory both work")
