# Compiler set-up shared by every target: ccache, warnings, sanitizers.
# f8net_warnings is an INTERFACE target that our own targets link to (never third-party code).

find_program(F8NET_CCACHE ccache)
if(F8NET_CCACHE)
  set(CMAKE_C_COMPILER_LAUNCHER ${F8NET_CCACHE})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${F8NET_CCACHE})
endif()

add_library(f8net_warnings INTERFACE)
target_compile_options(f8net_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wshadow -Wnon-virtual-dtor -Wpedantic>
  $<$<COMPILE_LANGUAGE:C>:-Wall -Wextra -Wpedantic>)
if(F8NET_WERROR)
  target_compile_options(f8net_warnings INTERFACE -Werror)
endif()

if(F8NET_SANITIZE)
  string(REPLACE ";" "," _f8net_san "${F8NET_SANITIZE}")
  add_compile_options(-fsanitize=${_f8net_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_f8net_san})
endif()
# Fuzz builds instrument every library for libFuzzer's coverage (the targets add the driver).
if(F8NET_BUILD_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
