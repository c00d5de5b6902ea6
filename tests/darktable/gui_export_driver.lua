--[[
  Test driver for darktable's GUI (run under Xvfb with --luacmd 'require "gui_export_driver"').
  Reads its inputs from the environment (no quoting problems):
    LCB_TEST_PHOTO   photo to import and export
    LCB_TEST_FOLDER  target folder of the "Latent Color Balance" storage
    LCB_TEST_PROGRAM latentbalance program (optional)
    LCB_TEST_FAILING a program that fails (optional): the image is exported once more with it
    LCB_TEST_DONE    file written ("ok" or an error) when the export has finished
  Loads contrib/latent_color_balance (unless luarc did), imports the photo, selects it
  and presses the export module's button (the storage is chosen by darktablerc:
  plugins/lighttable/export/storage_name=latent_color_balance), waits until the
  storage's folder holds a file (two with LCB_TEST_FAILING), writes LCB_TEST_DONE and quits darktable.
]]
local dt = require "darktable"
local MODULE = "latent_color_balance"

local function say(...)
  local parts = {}
  for i = 1, select("#", ...) do parts[#parts + 1] = tostring((select(i, ...))) end
  io.stderr:write("gui_export_driver: ", table.concat(parts, " "), "\n") -- unbuffered: visible even if darktable is killed
end
local function getenv(name)
  local v = os.getenv(name)
  if v == nil or v == "" then error("gui_export_driver: " .. name .. " is not set") end
  return v
end

local photo, folder, done = getenv("LCB_TEST_PHOTO"), getenv("LCB_TEST_FOLDER"), getenv("LCB_TEST_DONE")
local program, failing = os.getenv("LCB_TEST_PROGRAM"), os.getenv("LCB_TEST_FAILING")

dt.preferences.write(MODULE, "folder", "string", folder)
dt.preferences.write(MODULE, "balance_every_export", "bool", false)
if program and program ~= "" then dt.preferences.write(MODULE, "program", "string", program) end

-- luarc runs before --luacmd: when luarc requires the plugin it is already loaded here
local loaded_by_luarc = package.loaded["contrib/latent_color_balance"] ~= nil
local script = require "contrib/latent_color_balance"
say("script loaded: " .. tostring(script.metadata and script.metadata.name) .. ", by luarc: " .. tostring(loaded_by_luarc))

local function finish(message)
  local f = io.open(done, "w")
  f:write(message, "\n")
  f:close()
  say("finished: " .. message)
end

local function shell_quote(text)
  local quoted = text:gsub("'", "'\\''")
  return "'" .. quoted .. "'"
end

--- Names in `dir` (nil when it does not exist yet), one per line.
local function listing(dir)
  local p = io.popen("ls -A -- " .. shell_quote(dir) .. " 2>/dev/null || echo '//missing'")
  local out = p:read("a")
  p:close()
  if out:match("^//missing") then return nil end
  return out
end

--- Waits (at most 10 minutes) until the storage's folder holds `n` files and no temp (dot) file.
local function wait_for_files(n)
  for _ = 1, 1200 do
    local files = listing(folder) or ""
    if select(2, files:gsub("[^\n]+", "")) >= n and not files:match("^%.") and not files:match("\n%.") then
      say("folder now has: " .. files:gsub("\n", " | "))
      return
    end
    dt.control.sleep(500)
  end
end

--- The storage's folder as its widget shows it: the text, and the folder the folder button points
--- at (GTK shows "(None)" for a folder that does not exist). Nil plus a reason when it is wrong.
local function check_shown_folder(when, want_chosen)
  if type(script.shown_folder) ~= "function" then return nil, "the script has no shown_folder" end
  local text, chosen = script.shown_folder()
  say(when .. ": widget shows " .. tostring(text) .. ", folder button at " .. tostring(chosen))
  if text ~= folder then return nil, when .. ": the widget shows " .. tostring(text) .. ", not " .. folder end
  -- GTK's folder button shows "(None)" for a folder that does not exist, whatever its value says
  if chosen == nil or not listing(chosen) then return nil, when .. ": the folder button points at " .. tostring(chosen) .. ", which does not exist: it shows (None)" end
  if want_chosen and chosen ~= want_chosen then return nil, when .. ": the folder button is at " .. chosen .. ", not " .. want_chosen end
  if folder:sub(1, #chosen) ~= chosen then return nil, when .. ": the folder button is at " .. chosen .. ", outside " .. folder end
  return true
end

dt.control.dispatch(function()
  local ok, err = pcall(function()
    assert(check_shown_folder("before the export (folder not created yet)"))
    local image = dt.database.import(photo)
    say("imported " .. tostring(image and image.filename))
    dt.gui.selection({image})
    -- the export job starts in the background; the storage creates the folder when it starts.
    -- Press the button again (at most 3 times) if nothing started, in case darktable was not ready.
    local started = false
    for attempt = 1, 3 do
      dt.control.sleep(2000)
      say("view " .. tostring(dt.gui.current_view().id) .. ", export button, attempt " .. attempt,
          pcall(dt.gui.action, "lib/export/export", 0, "", "", 1.0))
      for _ = 1, 40 do
        dt.control.sleep(250)
        if listing(folder) then started = true break end
      end
      if started then break end
    end
    if not started then error("the export did not start") end
    wait_for_files(1)
    dt.control.sleep(1000)
    -- the export created the folder: the folder button now points at it
    assert(check_shown_folder("after the export", folder))
    if failing and failing ~= "" then
      -- the same image again with a failing program: saved unbalanced beside the first, as NAME_1
      dt.preferences.write(MODULE, "program", "string", failing)
      say("export with a failing program", pcall(dt.gui.action, "lib/export/export", 0, "", "", 1.0))
      wait_for_files(2)
    end
  end)
  finish(ok and ("ok loaded-by-luarc=" .. tostring(loaded_by_luarc)) or ("error: " .. tostring(err)))
  say("quit action", pcall(dt.gui.action, "global/quit", 0, "", "", 1.0))
end)
