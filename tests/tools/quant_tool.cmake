inferd_add_tool(quant_tool SOURCES quant_tool.c LIBS inferd_quant)
