# install() rules and the exported CMake package: an embedding project calls find_package(f8net)
# and links f8net::rt. Only the runtime layer is installed as a library (it is what people embed);
# the CLI is installed as a program. tests/package builds an outside project against it.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(F8NET_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/f8net)

install(FILES ${PROJECT_SOURCE_DIR}/include/f8net/fixed.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/f8net)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/f8net/fixed ${PROJECT_SOURCE_DIR}/include/f8net/rt
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/f8net)

set_target_properties(f8net_fixed PROPERTIES EXPORT_NAME fixed)
set_target_properties(f8net_rt PROPERTIES EXPORT_NAME rt)
install(TARGETS f8net_fixed f8net_rt EXPORT f8netTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT f8netTargets NAMESPACE f8net:: DESTINATION ${F8NET_INSTALL_CMAKEDIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/f8netConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/f8netConfig.cmake
                              INSTALL_DESTINATION ${F8NET_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/f8netConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/f8netConfig.cmake ${PROJECT_BINARY_DIR}/f8netConfigVersion.cmake
        DESTINATION ${F8NET_INSTALL_CMAKEDIR})

if(TARGET f8net)
  install(TARGETS f8net RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
