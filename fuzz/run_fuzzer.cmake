# Runs one libFuzzer binary for a bounded time on a copy of its seed corpus
# (the repository's corpus is never written to), and fails when it finds a
# crash, a broken invariant, a hang or an out-of-memory.
#
#   cmake -DFUZZER=<binary> -DCORPUS=<seed dir> -DWORK=<scratch dir>
#         -DSECONDS=<n> [-DDICTIONARY=<file>] -P run_fuzzer.cmake
#
# The fuzzer's own output goes to <WORK>/fuzz.log; the summary is printed,
# and on failure so is the end of the log and the saved input to reproduce
# with: <binary> <WORK>/artifacts/<file>.
foreach(variable FUZZER CORPUS WORK SECONDS)
  if(NOT DEFINED ${variable})
    message(FATAL_ERROR "run_fuzzer.cmake needs -D${variable}=...")
  endif()
endforeach()

# A dictionary beside the corpus (fuzz/<target>.dict) gives the fuzzer the
# words it cannot guess: the magic, the message headers, the nonces that the
# targets' fixed entries use.
set(dictionary "")
if(DEFINED DICTIONARY AND EXISTS "${DICTIONARY}")
  set(dictionary "-dict=${DICTIONARY}")
endif()

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
    ${dictionary}
    "-artifact_prefix=${WORK}/artifacts/"
    "${WORK}/corpus"
  RESULT_VARIABLE result
  OUTPUT_FILE "${WORK}/fuzz.log"
  ERROR_FILE "${WORK}/fuzz.log")

# Filtered line by line as it is read: the log has unbalanced brackets,
# which a CMake list of all its lines would not survive.
file(STRINGS "${WORK}/fuzz.log" summary
  REGEX "^(#[0-9]+.*(INITED|DONE)|stat::|Done [0-9]+ runs)")
list(JOIN summary "\n" summary)
file(GLOB corpus_files "${WORK}/corpus/*")
list(LENGTH corpus_files corpus_size)
get_filename_component(name "${FUZZER}" NAME)
message("${name}: ${SECONDS} s, corpus ${corpus_size} inputs after the run\n"
        "${summary}")

if(NOT result EQUAL 0)
  file(READ "${WORK}/fuzz.log" log)
  string(LENGTH "${log}" length)
  set(start 0)
  if(length GREATER 8000)
    math(EXPR start "${length} - 8000")
  endif()
  string(SUBSTRING "${log}" ${start} -1 tail)
  file(GLOB artifacts "${WORK}/artifacts/*")
  message(FATAL_ERROR
    "${name} failed (exit ${result}). End of ${WORK}/fuzz.log:\n${tail}\n"
    "Saved inputs (replay: ${FUZZER} <file>; add the file to the corpus "
    "once fixed): ${artifacts}")
endif()
