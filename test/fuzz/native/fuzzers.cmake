# libFuzzer targets over the native core's parsers (test/fuzz/native/fuzz_*.cc),
# included by CMakeLists.txt when HSMKMS_FUZZ is on (the `fuzz` preset: clang,
# with the core built -fsanitize=address,undefined,fuzzer-no-link). Each
# target links libFuzzer's main; `cmake --build --preset fuzz` builds them all
# through the hsmkms_fuzzers target (and not the ctest suite).
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "HSMKMS_FUZZ needs clang (libFuzzer): use the fuzz preset")
endif()
add_custom_target(hsmkms_fuzzers)
file(GLOB hsmkms_fuzz_sources CONFIGURE_DEPENDS
     ${CMAKE_CURRENT_SOURCE_DIR}/test/fuzz/native/fuzz_*.cc)
foreach(source IN LISTS hsmkms_fuzz_sources)
  get_filename_component(exe ${source} NAME_WE)
  add_executable(${exe} EXCLUDE_FROM_ALL ${source})
  target_link_libraries(${exe} PRIVATE hsmkms_core)
  target_compile_options(${exe} PRIVATE -Wall -Wextra -Wpedantic ${HSMKMS_WERROR_FLAG}
                         -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer
                         -fno-sanitize-recover=all)
  target_link_options(${exe} PRIVATE -fsanitize=fuzzer,address,undefined)
  set_target_properties(${exe} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzzers)
  add_dependencies(hsmkms_fuzzers ${exe})
endforeach()

# The libFuzzer bridge for the JavaScript targets (test/fuzz/js/bridge): a
# Node addon over Debian clang's libFuzzer, not instrumented itself (it runs
# inside a plain `node`).
execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-runtime-dir
                OUTPUT_VARIABLE hsmkms_clang_rt_dir OUTPUT_STRIP_TRAILING_WHITESPACE
                COMMAND_ERROR_IS_FATAL ANY)
set(hsmkms_libfuzzer ${hsmkms_clang_rt_dir}/libclang_rt.fuzzer_no_main-x86_64.a)
if(NOT EXISTS ${hsmkms_libfuzzer})
  message(FATAL_ERROR "libFuzzer not found at ${hsmkms_libfuzzer} (Debian: libclang-rt-14-dev)")
endif()
# Node's headers sit beside its binary (npm's nodedir), as for node-gyp.
execute_process(COMMAND node -p "require('path').resolve(process.execPath, '../../include/node')"
                OUTPUT_VARIABLE hsmkms_node_include OUTPUT_STRIP_TRAILING_WHITESPACE
                COMMAND_ERROR_IS_FATAL ANY)
add_library(libfuzzer_bridge MODULE EXCLUDE_FROM_ALL test/fuzz/js/bridge/libfuzzer_bridge.cc)
target_include_directories(libfuzzer_bridge PRIVATE ${hsmkms_node_include})
target_compile_definitions(libfuzzer_bridge PRIVATE NAPI_VERSION=8 BUILDING_NODE_EXTENSION
                           NODE_GYP_MODULE_NAME=libfuzzer_bridge)
target_compile_options(libfuzzer_bridge PRIVATE -Wall -Wextra -Wpedantic ${HSMKMS_WERROR_FLAG}
                       -fvisibility=hidden)
target_link_options(libfuzzer_bridge PRIVATE -Wl,--exclude-libs,ALL)
target_link_libraries(libfuzzer_bridge PRIVATE ${hsmkms_libfuzzer} Threads::Threads)
set_target_properties(libfuzzer_bridge PROPERTIES PREFIX "" SUFFIX ".node"
                      LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzzers)
add_dependencies(hsmkms_fuzzers libfuzzer_bridge)
