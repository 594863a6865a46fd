# Writes ${OUT}: a C++ source defining mixprec::amp::kDefaultListsJson with the text of ${IN}.
file(READ ${IN} content)
string(FIND "${content}" ")mixprec_json\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} contains the raw-string delimiter")
endif()
file(WRITE ${OUT} "// Generated from ${IN}; do not edit.\n#include <string_view>\nnamespace mixprec::amp {\nextern const std::string_view kDefaultListsJson;\nconst std::string_view kDefaultListsJson = R\"mixprec_json(${content})mixprec_json\";\n}\n")
