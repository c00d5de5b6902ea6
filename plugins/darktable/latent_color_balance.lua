--[[
    latent_color_balance.lua - balance darktable exports with LatentBalance

    Part of the LatentBalance project (an ML colour balancer). This script is a
    thin client: the balancing runs in the `latentbalance` program (which uses a
    running LatentBalance daemon when there is one).

    ADDITIONAL SOFTWARE NEEDED FOR THIS SCRIPT
    * latentbalance: installed by `dotnet cake --target=install-darktable` as
      ~/.local/bin/latentbalance, or any path set in the preference
      "Latent Color Balance: latentbalance program" (a .dll path is run with dotnet)

    USAGE
    * require this script from your luarc file (`require "contrib/latent_color_balance"`)
      or start it from script_manager
    * export storage "Latent Color Balance": choose the target folder in the
      storage's options; each exported image is balanced and written there
    * preference "Latent Color Balance: balance every export": balances every
      exported file in place, whatever the storage (disk, e-mail, ...)
    * preferences "strength" and "iterations" are passed to `latentbalance balance`

    Errors are shown in darktable's message area; a file that failed to balance
    is left exactly as darktable exported it.

    Arguments reach the program through one shell line (dt.control.execute) in
    which every argument is single-quoted (see quote), so file names with
    spaces, quotes, `$`, back-ticks and non-ASCII letters are passed unchanged.
]]

local dt = require "darktable"

local MODULE = "latent_color_balance"
local STORAGE_NAME = "Latent Color Balance"
local MIN_API = "7.0.0"

-- - - - - - - - - - - - - - - - - - - - - - - -
-- lua-scripts' lib/dtutils when installed (script_manager, a lua-scripts clone); Debian's
-- darktable package has no lua-scripts, so the few helpers used have a fallback here
-- - - - - - - - - - - - - - - - - - - - - - - -

local has_du, du = pcall(require, "lib/dtutils")
local has_df, df = pcall(require, "lib/dtutils.file")
if has_du then
  du.check_min_api_version(MIN_API, MODULE)
elseif dt.configuration.api_version_major < tonumber(MIN_API:match("^%d+")) then -- MIN_API is x.0.0
  error(MODULE .. ": darktable Lua API " .. MIN_API .. " or newer is required, this is "
        .. dt.configuration.api_version_string)
end

local function _(msgid)
  if dt.gettext and dt.gettext.dgettext then return dt.gettext.dgettext(MODULE, msgid) end
  return msgid
end
if dt.gettext and dt.gettext.bindtextdomain then
  dt.gettext.bindtextdomain(MODULE, dt.configuration.config_dir .. "/lua/locale/")
end

-- script_manager integration
local script_data = {}
script_data.metadata = {
  name = "latent color balance",
  purpose = _("balance the colours of exported images with LatentBalance"),
  author = "LatentBalance project",
  help = "docs/DARKTABLE.md in the LatentBalance repository",
}
script_data.destroy = nil
script_data.destroy_method = nil -- storage and event are removed completely
script_data.restart = nil
script_data.show = nil

-- - - - - - - - - - - - - - - - - - - - - - - -
-- preferences
-- - - - - - - - - - - - - - - - - - - - - - - -

-- Defaults for every preference; values are read as text (see read_pref) so that an unset
-- preference gives its default also where the preferences were not registered.
local DEFAULTS = {program = "", strength = 1.0, iterations = 1, balance_every_export = false, folder = ""}

-- darktable-cli has no preferences dialog (and dt.preferences.register blocks there).
if dt.configuration.has_gui then
  dt.preferences.register(MODULE, "program", "file",
    _("Latent Color Balance: latentbalance program"),
    _("path to the latentbalance program or to latentbalance.dll (run with dotnet); "
      .. "empty: ~/.local/bin/latentbalance, else latentbalance on PATH"),
    DEFAULTS.program)
  dt.preferences.register(MODULE, "strength", "float",
    _("Latent Color Balance: strength"),
    _("how much of the correction to apply (0..1)"),
    DEFAULTS.strength, 0.0, 1.0, 0.05)
  dt.preferences.register(MODULE, "iterations", "integer",
    _("Latent Color Balance: iterations"),
    _("repeat the balance on its own output (1..10)"),
    DEFAULTS.iterations, 1, 10)
  dt.preferences.register(MODULE, "balance_every_export", "bool",
    _("Latent Color Balance: balance every export"),
    _("balance every exported JPEG/PNG/TIFF/WebP file in place, whatever the export storage"),
    DEFAULTS.balance_every_export)
end

-- - - - - - - - - - - - - - - - - - - - - - - -
-- helpers
-- - - - - - - - - - - - - - - - - - - - - - - -

local SUPPORTED_EXTENSIONS = {jpg = true, jpeg = true, png = true, tif = true, tiff = true, webp = true}

--- One shell word for any string: single quotes, and each ' written as '\''. dtutils' sanitize
--- does the same, except that it keeps a string that is already such a word (starting and ending
--- with '): one literal word all the same, and only a program path typed in quotes looks so.
local quote = has_df and df.sanitize_filename
  or function(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

--- Whether a file or folder exists (dtutils runs `test -e`); `path/.` exists only for a folder.
local exists = has_df and df.check_if_file_exists
  or function(path) local f = io.open(path, "rb") if f then f:close() end return f ~= nil end
local function is_directory(path) return exists(path .. "/.") end
dt.print_log(MODULE .. (has_df and ": helpers from lua-scripts' lib/dtutils.file" or ": own helpers (no lua-scripts)"))

--- A number (>= 0) as text with a '.', whatever separator the C locale puts in.
local function decimal_text(x) return (string.format("%.3f", x):gsub("%D+", ".")) end

--- An absolute path (darktable-cli may be given relative ones; a daemon has another working folder).
local function absolute(path)
  if path:sub(1, 1) == "/" then return path end
  local cwd = os.getenv("PWD")
  if cwd == nil or cwd == "" then return path end
  return (cwd:gsub("/+$", "")) .. "/" .. path:gsub("^%./", "")
end

-- Path helpers, and free_path and the mkdir and mv commands below, stay here although lua-scripts
-- has them: its get_path/get_filename/create_unique_filename drop every ' and " from a path (a file
-- in "l'été" is looked for in "lété"), and in the lua-scripts for darktable 4.2 (API-9.0.0)
-- file_copy, file_move and mkdir put paths into the shell with their ' unescaped (a file named
-- a'$(cmd)'.jpg runs cmd). Its external_command is dt.control.execute on Linux.
local function folder_of(path) return path:match("^(.*)/[^/]*$") or "." end
local function name_of(path) return path:match("([^/]*)$") end
local function extension_of(path) return (name_of(path):match("%.([^.]+)$") or ""):lower() end

-- Settings for this run only, e.g. from darktable-cli:
--   --luacmd 'latent_color_balance_options = {balance_every_export = true}; require "contrib/latent_color_balance"'
-- They take precedence over the preferences and are never written to darktablerc (a command-line
-- run must not switch anything on in the user's GUI settings).
local SESSION = rawget(_G, "latent_color_balance_options")
if type(SESSION) ~= "table" then SESSION = {} end

--- A setting of this run, else a preference, else its default when unset or unreadable.
local function read_pref(name)
  local default = DEFAULTS[name]
  if SESSION[name] ~= nil then
    local v = SESSION[name]
    if type(default) == "boolean" then return v == true or tostring(v):lower() == "true" end
    if type(default) == "number" then return tonumber(v) or default end
    return tostring(v)
  end
  local text = dt.preferences.read(MODULE, name, "string")
  if text == nil or text == "" or text == "(None)" then return default end
  if type(default) == "boolean" then return text:lower() == "true" end
  if type(default) == "number" then
    local n = tonumber((text:gsub(",", ".")))
    if n == nil then return default end
    if math.type(default) == "integer" then n = math.floor(n + 0.5) end
    return n
  end
  return text
end

--- The program to run as a list of words (no shell parsing of the preference).
local function program_words()
  local program = read_pref("program")
  if program == "" then
    local home = os.getenv("HOME")
    local local_bin = home and (home .. "/.local/bin/latentbalance")
    if local_bin and exists(local_bin) then return {local_bin} end
    return {"latentbalance"}
  end
  if program:lower():match("%.dll$") then return {"dotnet", program} end
  return {program}
end

--- dt.control.execute returns system()'s wait status in darktable 4.x (exit code * 256).
local function exit_code(status)
  status = tonumber(status) or -1
  if status > 255 and status % 256 == 0 then return status // 256 end
  return status
end

--- The last error line the program printed, for the message area.
local function error_summary(log_text, rc)
  local last_error, last_line
  for line in log_text:gmatch("[^\n]+") do
    if line:match("%S") then last_line = line end
    if line:lower():match("error") then last_error = line end
  end
  local line = last_error or last_line
  if rc == 127 and not last_error then
    line = _("latentbalance program not found (set it in preferences > lua options)")
  end
  if line then
    line = line:gsub("^latentbalance:%s*", "")
    if #line > 300 then line = line:sub(1, 300) .. "..." end
    return line
  end
  return string.format(_("latentbalance exited with code %s"), tostring(rc))
end

--- Balance `input` into `output` (may be the same file). The result is written to a temp
--- file beside `output` and renamed over it only when the program succeeded, so a failure
--- leaves `output` untouched. Returns true, or false and a one-line reason.
local function balance_file(input, output)
  input, output = absolute(input), absolute(output)
  local ext = extension_of(output)
  if not SUPPORTED_EXTENSIONS[ext] then
    return false, string.format(_("%s: format .%s is not supported (JPEG, PNG, TIFF, WebP)"), name_of(output), ext)
  end
  local log_path = os.tmpname() -- a fresh, unique file: also names the temp output
  local tmp = folder_of(output) .. "/.latentbalance-" .. name_of(log_path) .. "." .. ext
  local words = program_words()
  for _, w in ipairs({"balance", input, "-o", tmp,
                      "--strength", decimal_text(math.max(0, math.min(1, read_pref("strength")))),
                      "--iterations", string.format("%d", math.max(1, math.min(10, read_pref("iterations"))))}) do
    words[#words + 1] = w
  end
  local quoted = {}
  for i, w in ipairs(words) do quoted[i] = quote(w) end
  local command = table.concat(quoted, " ") .. " </dev/null >" .. quote(log_path) .. " 2>&1"
  dt.print_log(MODULE .. ": running " .. command)
  local rc = exit_code(dt.control.execute(command))
  local log_file = io.open(log_path, "rb")
  local log_text = log_file and log_file:read("a") or ""
  if log_file then log_file:close() end
  os.remove(log_path)
  if rc == 0 and exists(tmp) then
    local ok, err = os.rename(tmp, output)
    if ok then return true end
    os.remove(tmp)
    return false, string.format(_("%s: cannot replace the file: %s"), name_of(output), tostring(err))
  end
  os.remove(tmp)
  return false, name_of(input) .. ": " .. error_summary(log_text, rc)
end

local function report_error(message)
  dt.print(STORAGE_NAME .. ": " .. message)
  dt.print_error(MODULE .. ": " .. message)
end

-- - - - - - - - - - - - - - - - - - - - - - - -
-- balance every export in place
-- - - - - - - - - - - - - - - - - - - - - - - -

local function on_intermediate_export(event, image, filename, format, storage)
  if not read_pref("balance_every_export") then return end
  if storage and storage.plugin_name == MODULE then return end -- our storage balances itself
  if not SUPPORTED_EXTENSIONS[extension_of(filename)] then
    dt.print_log(MODULE .. ": skipping " .. filename .. " (format not supported)")
    return
  end
  local ok, err = balance_file(filename, filename)
  if ok then
    dt.print_log(MODULE .. ": balanced " .. filename)
  else
    report_error(err .. " " .. _("(left as exported)"))
  end
end

-- - - - - - - - - - - - - - - - - - - - - - - -
-- export storage
-- - - - - - - - - - - - - - - - - - - - - - - -

-- the storage's widget (GUI only): the folder as text, and a button to choose one
local folder_entry, folder_button

local function target_folder()
  local folder = folder_entry and folder_entry.text or ""
  if folder == "" then folder = read_pref("folder") end
  if folder == "" then
    folder = (os.getenv("HOME") or ".") .. "/Pictures/latent-balance"
  end
  return (folder:gsub("/+$", ""))
end

--- `name` in `folder`, with _1, _2, ... before the extension when that file already exists.
local function free_path(folder, name)
  local path, stem, ext = folder .. "/" .. name, name:match("^(.*)(%.[^.]*)$")
  if not stem then stem, ext = name, "" end
  for i = 1, 9999 do
    if not exists(path) then break end
    path = string.format("%s/%s_%d%s", folder, stem, i, ext)
  end
  return path
end

--- The nearest folder of `path` that exists: the path itself when it does, else its parent's, ...
local function existing_folder(path)
  local folder = path
  while folder ~= "" and not is_directory(folder) do folder = folder_of(folder) end
  return folder ~= "" and folder ~= "." and folder or "/"
end

--- Shows `folder` in the storage's widget: its whole path as text (it may not exist yet: the export
--- creates it), and the folder button at the nearest folder that exists (GTK's folder button shows
--- "(None)" for a folder that does not exist, the default folder on a fresh system).
local function show_folder(folder)
  if not folder_entry then return end
  folder_entry.text = folder
  folder_button.value = existing_folder(folder)
end

local function storage_supported(storage, format)
  return SUPPORTED_EXTENSIONS[(format.extension or ""):lower()] == true
end

local function storage_initialize(storage, format, images, high_quality, extra_data)
  local folder = target_folder()
  if not is_directory(folder) then
    dt.control.execute("mkdir -p -- " .. quote(folder))
  end
  if not is_directory(folder) then
    report_error(string.format(_("cannot create the folder %s"), folder))
    return {} -- nothing to export
  end
  if folder_entry and folder ~= read_pref("folder") then
    dt.preferences.write(MODULE, "folder", "string", folder) -- a folder typed into the widget is kept
  end
  extra_data.folder = folder
  extra_data.balanced = 0
  extra_data.failed = 0
  return nil -- export all images
end

local function storage_store(storage, image, format, filename, number, total, high_quality, extra_data)
  local folder = extra_data.folder or target_folder()
  dt.print(string.format(_("%s: balancing image %d of %d"), STORAGE_NAME, number, total))
  local output = free_path(folder, name_of(filename))
  local ok, err = balance_file(filename, output)
  if ok then
    extra_data.balanced = (extra_data.balanced or 0) + 1
  else
    extra_data.failed = (extra_data.failed or 0) + 1
    -- unbalanced, but never half-written: mv (a copy across file systems) to a hidden name, then rename
    local tmp = folder_of(output) .. "/.latentbalance-unbalanced-" .. name_of(output)
    local saved = exit_code(dt.control.execute("mv -- " .. quote(filename) .. " " .. quote(tmp))) == 0
      and os.rename(tmp, output) ~= nil
    if not saved then os.remove(tmp) end
    report_error(err .. " " .. (saved and _("(saved without balancing)") or _("(not saved)")))
  end
  os.remove(filename)
end

local function storage_finalize(storage, image_table, extra_data)
  local message = string.format(_("%s: %d balanced, %d failed, in %s"), STORAGE_NAME,
    extra_data.balanced or 0, extra_data.failed or 0, extra_data.folder or target_folder())
  dt.print(message)
  dt.print_log(MODULE .. ": " .. message)
  show_folder(extra_data.folder or target_folder()) -- it exists now: the folder button can point at it
end

local function storage_widget()
  if not dt.configuration.has_gui then return nil end
  folder_entry = dt.new_widget("entry") {
    text = target_folder(),
    editable = true,
    tooltip = _("balanced images are written to this folder; it is created by the first export"),
  }
  folder_button = dt.new_widget("file_chooser_button") {
    title = _("folder for balanced exports"),
    is_directory = true,
    tooltip = _("choose the folder for balanced exports"),
    changed_callback = function(self)
      if self.value and self.value ~= "" and self.value ~= existing_folder(folder_entry.text) then
        folder_entry.text = self.value
        dt.preferences.write(MODULE, "folder", "string", self.value)
      end
    end,
  }
  show_folder(target_folder())
  return dt.new_widget("box") {
    orientation = "vertical",
    dt.new_widget("label") { label = _("target folder"), halign = "start" },
    folder_entry,
    folder_button,
  }
end

-- - - - - - - - - - - - - - - - - - - - - - - -
-- registration and clean-up
-- - - - - - - - - - - - - - - - - - - - - - - -

local widget = storage_widget()

local function install()
  dt.register_storage(MODULE, STORAGE_NAME, storage_store, storage_finalize,
                      storage_supported, storage_initialize, widget)
  dt.register_event(MODULE, "intermediate-export-image", on_intermediate_export)
end

local function destroy()
  dt.destroy_event(MODULE, "intermediate-export-image")
  dt.destroy_storage(MODULE)
end

install()

--- What the storage's widget shows (text, folder button), for the GUI test; nil without a GUI.
script_data.shown_folder = function()
  if folder_entry then return folder_entry.text, folder_button.value end
end
script_data.destroy = destroy
script_data.restart = install

return script_data
