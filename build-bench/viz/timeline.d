build-bench/viz/timeline.o: viz/timeline.c include/iosim/vec.h \
 viz/viz_int.h /usr/include/graphviz/gvc.h /usr/include/graphviz/types.h \
 /usr/include/graphviz/geom.h /usr/include/graphviz/arith.h \
 /usr/include/graphviz/gvcext.h /usr/include/graphviz/pathgeom.h \
 /usr/include/graphviz/textspan.h /usr/include/graphviz/cgraph.h \
 /usr/include/graphviz/cdt.h /usr/include/graphviz/usershape.h \
 /usr/include/graphviz/gvplugin.h include/iosim/viz.h
include/iosim/vec.h:
viz/viz_int.h:
/usr/include/graphviz/gvc.h:
/usr/include/graphviz/types.h:
/usr/include/graphviz/geom.h:
/usr/include/graphviz/arith.h:
/usr/include/graphviz/gvcext.h:
/usr/include/graphviz/pathgeom.h:
/usr/include/graphviz/textspan.h:
/usr/include/graphviz/cgraph.h:
/usr/include/graphviz/cdt.h:
/usr/include/graphviz/usershape.h:
/usr/include/graphviz/gvplugin.h:
include/iosim/viz.h:
