# Runs one libFuzzer binary for a bounded time on a copy of its seed corpus
# (the repository's corpus is never written to), and fails when it finds a
# crash, a broken invariant, a hang or an out-of-memory.
#
#   cmake -DFUZZER=<binary> -DCORPUS=<seed dir> -DWORK=<scratch dir>
#         -DSECONDS=<n> -P run_fuzzer.cmake
#
# The fuzzer's own output goes to <WORK>/fuzz.log; the summary is printed,
# and on failure so is the end of the log and the saved input to reproduce
# with: <binary> <WORK>/artifacts/<file>.
foreach(variable FUZZER CORPUS WORK SECONDS)
  if(NOT DEFINED ${variable})
    message(FATAL_ERROR "run_fuzzer.cmake needs -D${variable}=...")
  endif()
endforeach()

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/corpus" "${WORK}/artifacts")
file(COPY "${CORPUS}/" DESTINATION "${WORK}/corpus")

# -timeout: one input taking this long is a hang (the targets' own waits
# give up after 5 s). -rss_limit_mb: well under the machine's memory.
# -max_len: room for the largest meaningful input (a token's text form,
# 1257 bytes) and a few dozen messages.
execute_process(
  COMMAND "${FUZZER}"
    -max_total_time=${SECONDS}
    -timeout=25
    -rss_limit_mb=2048
    -max_len=2048
    -print_final_stats=1
    "-artifact_prefix=${WORK}/artifacts/"
    "${WORK}/corpus"
  RESULT_VARIABLE result
  OUTPUT_FILE "${WORK}/fuzz.log"
  ERROR_FILE "${WORK}/fuzz.log")

file(STRINGS "${WORK}/fuzz.log" lines)
set(summary "")
foreach(line IN LISTS lines)
  if(line MATCHES "^#[0-9]+.*(INITED|DONE)" OR line MATCHES "^stat::" OR
     line MATCHES "^Done [0-9]+ runs")
    string(APPEND summary "${line}\n")
  endif()
endforeach()
file(GLOB corpus_files "${WORK}/corpus/*")
list(LENGTH corpus_files corpus_size)
get_filename_component(name "${FUZZER}" NAME)
message("${name}: ${SECONDS} s, corpus ${corpus_size} inputs after the run\n"
        "${summary}")

if(NOT result EQUAL 0)
  list(LENGTH lines count)
  math(EXPR first "${count} - 60")
  if(first LESS 0)
    set(first 0)
  endif()
  list(SUBLIST lines ${first} -1 tail)
  list(JOIN tail "\n" tail)
  file(GLOB artifacts "${WORK}/artifacts/*")
  message(FATAL_ERROR
    "${name} failed (exit ${result}). End of ${WORK}/fuzz.log:\n${tail}\n"
    "Saved inputs (replay: ${FUZZER} <file>; add the file to the corpus "
    "once fixed): ${artifacts}")
endif()
