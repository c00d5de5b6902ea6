# GIMP 3's own Colors > Auto > White Balance over a folder of JPEGs, in one GIMP process. Runs INSIDE
# gimp-console-3.0 (python-fu-eval), started by tests/gimp/batch-white-balance.sh, which sets:
#   LB_BATCH_IN       folder of the photos (*.jpg, taken in name order)
#   LB_BATCH_OUT      folder for the results (same names)
#   LB_BATCH_QUALITY  JPEG quality of the results, 1..100
# The menu item (action drawable-levels-stretch) runs gimp_drawable_levels_stretch() on the layer; the PDB
# procedure gimp-drawable-levels-stretch (Drawable.levels_stretch) runs the same core function.
# Prints "gimp-batch: photos N loop SECONDS" (the loop alone: load, white balance, export, close).

import os
import time

from gi.repository import Gimp, Gio

src, dst = os.environ["LB_BATCH_IN"], os.environ["LB_BATCH_OUT"]
quality = int(os.environ["LB_BATCH_QUALITY"]) / 100.0
export = Gimp.get_pdb().lookup_procedure("file-jpeg-export")
names = sorted(n for n in os.listdir(src) if n.lower().endswith(".jpg"))
if not names:
    raise SystemExit("gimp-batch: no *.jpg in " + src)

start = time.perf_counter()
for name in names:
    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(os.path.join(src, name)))
    layers = image.get_layers()
    if len(layers) != 1 or not layers[0].levels_stretch():
        raise SystemExit("gimp-batch: white balance failed on " + name)
    config = export.create_config()
    config.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    config.set_property("image", image)
    config.set_property("file", Gio.File.new_for_path(os.path.join(dst, name)))
    config.set_property("quality", quality)
    status = export.run(config).index(0)
    if status != Gimp.PDBStatusType.SUCCESS:
        raise SystemExit("gimp-batch: export failed on %s: %s" % (name, status.value_name))
    image.delete()
print("gimp-batch: photos %d loop %.3f" % (len(names), time.perf_counter() - start), flush=True)
