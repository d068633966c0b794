# bench/mmvq_lab.cu: a standalone laboratory for the single-row decode matmul's
# blocking (a benchmark for the GPU machine, not a test). Built with the tools
# where nvcc exists, so that it keeps compiling.
if(INFERD_HAVE_CUDA)
  inferd_add_tool(mmvq_lab SOURCES ${PROJECT_SOURCE_DIR}/bench/mmvq_lab.cu LIBS CUDA::cudart_static)
  set_target_properties(mmvq_lab PROPERTIES CUDA_STANDARD 17 CUDA_STANDARD_REQUIRED ON)
endif()
