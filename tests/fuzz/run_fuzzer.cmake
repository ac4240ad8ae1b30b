# Runs one libFuzzer target for a bounded time (a CTest smoke test; see CMakeLists.txt):
#   cmake -DFUZZER=bin -DCORPUS=seed_dir -DWORK=scratch_dir -DSECONDS=n -DRSS_MB=n -DMALLOC_MB=n
#         [-DDICT=file] -P run_fuzzer.cmake
# New corpus entries and crash artifacts go to WORK (recreated each run), never to the seeds.
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/corpus ${WORK}/artifacts)
set(_args ${WORK}/corpus ${CORPUS} -max_total_time=${SECONDS} -rss_limit_mb=${RSS_MB}
          -malloc_limit_mb=${MALLOC_MB} -timeout=25 -print_final_stats=1 -artifact_prefix=${WORK}/artifacts/)
if(DICT)
  list(APPEND _args -dict=${DICT})
endif()
message(STATUS "running: ${FUZZER} ${_args}")
execute_process(COMMAND ${FUZZER} ${_args} RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  file(GLOB _crashes ${WORK}/artifacts/*)
  message(FATAL_ERROR "fuzzer ${FUZZER} failed (exit ${_rc}); inputs that reproduce it: ${_crashes} "
                      "(run the target on the file to reproduce; add it to ${CORPUS} once fixed)")
endif()
