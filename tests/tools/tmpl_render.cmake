inferd_add_tool(tmpl_render SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tmpl_render.c LIBS inferd_template)
