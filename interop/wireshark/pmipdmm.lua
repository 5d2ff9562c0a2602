-- pmipdmm.lua: Wireshark/tshark dissector for the Mobility Header messages
-- and mobility options that tshark 4.0's mip6 dissector does not decode.
--
--   * MH types 19 Update Notification, 20 Update Notification Ack
--     (RFC 7077), 21 Flow Binding (RFC 7109), 22 Subscription Query and
--     23 Subscription Response (RFC 7161);
--   * mobility options 53-54 and 56-70, decoded field by field for 59 LMA
--     User-Plane Address (RFC 7389) and 65-70 (RFC 8885 DMM options),
--     named-but-raw for the others;
--   * this project's DMM messages and options (docs/wire-format.md), whose
--     codepoints are preferences (Edit > Preferences > Protocols > PMIPDMM,
--     or tshark -o pmipdmm.<name>:<value>).
--
-- How it hooks in: it takes over ip.proto 135 and udp.port 5436 (RFC 5844
-- IPv4 transport). A message of a type tshark knows is handed, untouched, to
-- the dissector that held the table entry before (tshark's mip6), so
-- tshark's own tree and fields do not change. The options it adds are
-- registered in tshark's "mip6.option" dissector table, so they are decoded
-- inside tshark's own messages (a PBA carrying a Previous MAAR option) as
-- well as inside the messages this plugin dissects. Inside its own messages
-- the plugin hands the options tshark knows back to that same table.
--
-- Field abbreviations start with "pmipdmm." (tshark -G fields | grep pmipdmm).
-- Written from the RFCs and the project's docs; no Wireshark code is copied.

local PLUGIN_VERSION = "1.0.0"

if set_plugin_info then
	set_plugin_info({
		version = PLUGIN_VERSION,
		description = "PMIPv6/DMM Mobility Header types and options missing from tshark 4.0",
		repository = "github.com/pmipdmm/pmipdmm interop/wireshark",
	})
end

local band, bor, rshift = bit.band, bit.bor, bit.rshift

local proto = Proto("pmipdmm", "PMIPv6/DMM Mobility Header extensions")
-- A second protocol object for the entries in tshark's mip6.option table:
-- it carries no fields of its own (all fields belong to proto) and only
-- gives the option dissector a separate entry point.
local opt_proto = Proto("pmipdmm_opt", "PMIPv6/DMM mobility option")

------------------------------------------------------------------------
-- Value strings
------------------------------------------------------------------------

local mh_type_names = {
	[0] = "Binding Refresh Request", [1] = "Home Test Init", [2] = "Care-of Test Init",
	[3] = "Home Test", [4] = "Care-of Test", [5] = "Binding Update",
	[6] = "Binding Acknowledgement", [7] = "Binding Error", [8] = "Fast Binding Update",
	[9] = "Fast Binding Acknowledgment", [10] = "Fast Neighbor Advertisement",
	[11] = "Experimental Mobility Header", [12] = "Home Agent Switch", [13] = "Heartbeat",
	[14] = "Handover Initiate", [15] = "Handover Acknowledge", [16] = "Binding Revocation",
	[17] = "Localized Routing Initiation", [18] = "Localized Routing Acknowledgment",
	[19] = "Update Notification", [20] = "Update Notification Acknowledgement",
	[21] = "Flow Binding", [22] = "Subscription Query", [23] = "Subscription Response",
}

-- Mobility options tshark 4.0 does not know (IANA "Mobility Options").
local new_option_names = {
	[53] = "IPv4 Traffic Offload Selector", [54] = "Dynamic IP Multicast Selector",
	[56] = "Active Multicast Subscription IPv4", [57] = "Active Multicast Subscription IPv6",
	[58] = "Quality-of-Service", [59] = "LMA User-Plane Address",
	[60] = "Multicast Mobility", [61] = "Multicast Acknowledgement",
	[62] = "LMA-Controlled MAG Parameters", [63] = "MAG Multipath-Binding",
	[64] = "MAG Identifier", [65] = "Anchored Prefix", [66] = "Local Prefix",
	[67] = "Previous MAAR", [68] = "Serving MAAR", [69] = "DLIF Link-Local Address",
	[70] = "DLIF Link-Layer Address",
}

-- RFC 7077 §4.1; IANA "Update Notification Reasons".
local upn_reasons = {
	[0] = "Reserved", [1] = "FORCE-REREGISTRATION", [2] = "UPDATE-SESSION-PARAMETERS",
	[3] = "VENDOR-SPECIFIC-REASON", [4] = "ANI-PARAMS-REQUESTED",
	[5] = "QOS_SERVICE_REQUEST", [6] = "PGW-TRIGGERED-PCSCF-RESTORATION-PCO",
	[7] = "PGW-TRIGGERED-PCSCF-RESTORATION-DHCP", [8] = "FLOW-MOBILITY", [255] = "Reserved",
}

-- RFC 7077 §4.2; IANA "Update Notification Acknowledgement Status".
local upa_status = {
	[0] = "SUCCESS", [128] = "FAILED-TO-UPDATE-SESSION-PARAMETERS",
	[129] = "MISSING-VENDOR-SPECIFIC-OPTION", [130] = "CANNOT_MEET_QOS_SERVICE_REQUEST",
	[131] = "Reason unspecified", [132] = "MN not attached",
}

-- RFC 7109; IANA "Flow Binding Type", "Flow Binding Indication Triggers",
-- "Flow Binding Acknowledgement Status Codes".
local fb_types = { [1] = "Flow Binding Indication", [2] = "Flow Binding Acknowledgement" }
local fb_triggers = {
	[0] = "Reserved", [1] = "Unspecified", [2] = "Administrative Reason",
	[3] = "Possible Out-of-Sync BCE State",
}
local fb_status = {
	[0] = "Success", [128] = "Binding (target CoA) Does NOT Exist",
	[129] = "Action NOT Authorized",
}

------------------------------------------------------------------------
-- Fields
------------------------------------------------------------------------

local F = {}
local fields = {}
local function field(key, pf)
	F[key] = pf
	fields[#fields + 1] = pf
end

-- Common header of the messages this plugin dissects itself.
field("proto", ProtoField.uint8("pmipdmm.proto", "Payload protocol", base.DEC, { [59] = "No Next Header for IPv6" }))
field("hdrlen", ProtoField.uint8("pmipdmm.hdrlen", "Header length", base.DEC))
field("mhtype", ProtoField.uint8("pmipdmm.mhtype", "Mobility Header Type", base.DEC, mh_type_names))
field("reserved", ProtoField.uint8("pmipdmm.reserved", "Reserved", base.HEX))
field("csum", ProtoField.uint16("pmipdmm.csum", "Checksum", base.HEX))
field("data", ProtoField.bytes("pmipdmm.data", "Message data"))

-- Update Notification (19), RFC 7077 §4.1.
field("upn", ProtoField.none("pmipdmm.upn", "Update Notification"))
field("upn_seq", ProtoField.uint16("pmipdmm.upn.seq", "Sequence number", base.DEC))
field("upn_reason", ProtoField.uint16("pmipdmm.upn.reason", "Notification Reason", base.DEC, upn_reasons))
field("upn_flags", ProtoField.uint16("pmipdmm.upn.flags", "Flags", base.HEX))
field("upn_a", ProtoField.bool("pmipdmm.upn.a_flag", "Acknowledgement requested (A)", 16, nil, 0x8000))
field("upn_d", ProtoField.bool("pmipdmm.upn.d_flag", "Retransmission (D)", 16, nil, 0x4000))
field("upn_res", ProtoField.uint16("pmipdmm.upn.reserved", "Reserved", base.HEX, nil, 0x3fff))

-- Update Notification Acknowledgement (20), RFC 7077 §4.2.
field("upa", ProtoField.none("pmipdmm.upa", "Update Notification Acknowledgement"))
field("upa_seq", ProtoField.uint16("pmipdmm.upa.seq", "Sequence number", base.DEC))
field("upa_status", ProtoField.uint8("pmipdmm.upa.status", "Status", base.DEC, upa_status))
field("upa_res", ProtoField.uint24("pmipdmm.upa.reserved", "Reserved", base.HEX))

-- Flow Binding (21), RFC 7109.
field("fb", ProtoField.none("pmipdmm.fb", "Flow Binding"))
field("fb_type", ProtoField.uint16("pmipdmm.fb.type", "FB Type", base.DEC, fb_types))
field("fb_seq", ProtoField.uint16("pmipdmm.fb.seq", "Sequence number", base.DEC))
field("fb_trigger", ProtoField.uint8("pmipdmm.fb.trigger", "Trigger", base.DEC, fb_triggers))
field("fb_status", ProtoField.uint8("pmipdmm.fb.status", "Status", base.DEC, fb_status))
field("fb_flags", ProtoField.uint8("pmipdmm.fb.flags", "Flags", base.HEX))
field("fb_a", ProtoField.bool("pmipdmm.fb.a_flag", "Acknowledgement requested (A)", 8, nil, 0x80))

-- Subscription Query (22) / Subscription Response (23), RFC 7161.
field("sq", ProtoField.none("pmipdmm.sq", "Subscription Query"))
field("sq_seq", ProtoField.uint8("pmipdmm.sq.seq", "Sequence number", base.DEC))
field("sq_res", ProtoField.uint8("pmipdmm.sq.reserved", "Reserved", base.HEX))
field("sr", ProtoField.none("pmipdmm.sr", "Subscription Response"))
field("sr_seq", ProtoField.uint8("pmipdmm.sr.seq", "Sequence number", base.DEC))
field("sr_flags", ProtoField.uint8("pmipdmm.sr.flags", "Flags", base.HEX))
field("sr_i", ProtoField.bool("pmipdmm.sr.i_flag", "Multicast information (I)", 8, nil, 0x80))

-- Mobility options (generic part).
field("opts", ProtoField.none("pmipdmm.options", "Mobility Options"))
field("opt", ProtoField.none("pmipdmm.opt", "Mobility option"))
field("opt_type", ProtoField.uint8("pmipdmm.opt.type", "Option type", base.DEC))
field("opt_len", ProtoField.uint8("pmipdmm.opt.len", "Length", base.DEC))
field("opt_offset", ProtoField.uint16("pmipdmm.opt.offset", "Offset in Mobility Header", base.DEC))
field("opt_data", ProtoField.bytes("pmipdmm.opt.data", "Option data"))
field("pad1", ProtoField.none("pmipdmm.opt.pad1", "Pad1"))
field("padn", ProtoField.bytes("pmipdmm.opt.padn", "PadN"))
field("padn_len", ProtoField.uint8("pmipdmm.opt.padn.len", "Length", base.DEC))

-- 59 LMA User-Plane Address, RFC 7389 §4.
field("upa_addr_res", ProtoField.uint16("pmipdmm.opt.lma_upa.reserved", "Reserved", base.HEX))
field("upa_addr4", ProtoField.ipv4("pmipdmm.opt.lma_upa.ipv4", "LMA User-Plane Address (IPv4)"))
field("upa_addr6", ProtoField.ipv6("pmipdmm.opt.lma_upa.ipv6", "LMA User-Plane Address (IPv6)"))

-- 65 Anchored Prefix, 66 Local Prefix, RFC 8885 §4.3, §4.4.
field("ap_res", ProtoField.uint8("pmipdmm.opt.anchored_prefix.reserved", "Reserved", base.HEX))
field("ap_plen", ProtoField.uint8("pmipdmm.opt.anchored_prefix.plen", "Prefix length", base.DEC))
field("ap_prefix", ProtoField.ipv6("pmipdmm.opt.anchored_prefix.prefix", "Anchored prefix"))
field("lp_res", ProtoField.uint8("pmipdmm.opt.local_prefix.reserved", "Reserved", base.HEX))
field("lp_plen", ProtoField.uint8("pmipdmm.opt.local_prefix.plen", "Prefix length", base.DEC))
field("lp_prefix", ProtoField.ipv6("pmipdmm.opt.local_prefix.prefix", "Local prefix"))

-- 67 Previous MAAR, RFC 8885 §4.5.
field("pm_res", ProtoField.uint8("pmipdmm.opt.prev_maar.reserved", "Reserved", base.HEX))
field("pm_plen", ProtoField.uint8("pmipdmm.opt.prev_maar.plen", "Prefix length", base.DEC))
field("pm_addr", ProtoField.ipv6("pmipdmm.opt.prev_maar.addr", "P-MAAR global address"))
field("pm_prefix", ProtoField.ipv6("pmipdmm.opt.prev_maar.prefix", "Home network prefix"))

-- 68 Serving MAAR, 69 DLIF Link-Local Address, 70 DLIF Link-Layer Address,
-- RFC 8885 §4.6-4.8.
field("sm_addr", ProtoField.ipv6("pmipdmm.opt.serving_maar.addr", "S-MAAR global address"))
field("dlif_lla", ProtoField.ipv6("pmipdmm.opt.dlif_lla.addr", "DLIF link-local address"))
field("dlif_l2_res", ProtoField.uint16("pmipdmm.opt.dlif_l2.reserved", "Reserved", base.HEX))
field("dlif_l2", ProtoField.bytes("pmipdmm.opt.dlif_l2.addr", "DLIF link-layer address"))

------------------------------------------------------------------------
-- Expert info
------------------------------------------------------------------------

local E = {
	opt_len = ProtoExpert.new("pmipdmm.opt.len.invalid", "Invalid length for this option",
		expert.group.MALFORMED, expert.severity.ERROR),
	opt_overrun = ProtoExpert.new("pmipdmm.opt.overrun", "Option runs past the end of the Mobility Header",
		expert.group.MALFORMED, expert.severity.ERROR),
	opt_align = ProtoExpert.new("pmipdmm.opt.misaligned", "Option does not meet its alignment requirement",
		expert.group.PROTOCOL, expert.severity.WARN),
	hdrlen_short = ProtoExpert.new("pmipdmm.hdrlen.short",
		"Header length is shorter than the fixed part of this message",
		expert.group.MALFORMED, expert.severity.ERROR),
	hdrlen_mismatch = ProtoExpert.new("pmipdmm.hdrlen.mismatch",
		"Header length does not match the octets available",
		expert.group.MALFORMED, expert.severity.WARN),
	truncated = ProtoExpert.new("pmipdmm.truncated", "Message is shorter than its fixed part",
		expert.group.MALFORMED, expert.severity.ERROR),
	unknown_opt = ProtoExpert.new("pmipdmm.opt.undecoded", "Option data not decoded",
		expert.group.UNDECODED, expert.severity.NOTE),
}

proto.experts = { E.opt_len, E.opt_overrun, E.opt_align, E.hdrlen_short, E.hdrlen_mismatch,
	E.truncated, E.unknown_opt }

------------------------------------------------------------------------
-- Preferences
------------------------------------------------------------------------

proto.prefs.check_alignment = Pref.bool("Check option alignment", true,
	"Flag options whose Type octet does not sit at the RFC alignment (xn+y from the MH start)")

------------------------------------------------------------------------
-- Option dissection
------------------------------------------------------------------------

-- Offset of the Mobility Header being dissected in the frame's top-level
-- buffer; set by the MH entry point before tshark's mip6 runs, so that an
-- option dissected through the mip6.option table can tell its offset from
-- the start of the Mobility Header (for alignment and pmipdmm.opt.offset).
local current_mh_start = nil

-- Per-option: name, exact lengths allowed (Length octet values) or a
-- minimum, alignment {x, y}, and a body dissector (tvb is the whole option
-- from its Type octet; tree is the option's subtree).
local option_defs = {}

local function addr_option(fieldkey)
	return function(tvb, tree)
		tree:add(F[fieldkey], tvb(2, 16))
	end
end

local function prefix_option(res, plen, prefix)
	return function(tvb, tree)
		tree:add(F[res], tvb(2, 1))
		tree:add(F[plen], tvb(3, 1))
		tree:add(F[prefix], tvb(4, 16))
	end
end

option_defs[59] = {
	lens = { [2] = true, [6] = true, [18] = true }, align = { 8, 2 },
	body = function(tvb, tree, len)
		tree:add(F.upa_addr_res, tvb(2, 2))
		if len == 6 then
			tree:add(F.upa_addr4, tvb(4, 4))
		elseif len == 18 then
			tree:add(F.upa_addr6, tvb(4, 16))
		end
	end,
}
option_defs[65] = { lens = { [18] = true }, align = { 8, 4 },
	body = prefix_option("ap_res", "ap_plen", "ap_prefix") }
option_defs[66] = { lens = { [18] = true }, align = { 8, 4 },
	body = prefix_option("lp_res", "lp_plen", "lp_prefix") }
option_defs[67] = {
	lens = { [34] = true }, align = { 8, 4 },
	body = function(tvb, tree)
		tree:add(F.pm_res, tvb(2, 1))
		tree:add(F.pm_plen, tvb(3, 1))
		tree:add(F.pm_addr, tvb(4, 16))
		tree:add(F.pm_prefix, tvb(20, 16))
	end,
}
option_defs[68] = { lens = { [16] = true }, align = { 8, 6 }, body = addr_option("sm_addr") }
option_defs[69] = { lens = { [16] = true }, align = { 8, 6 }, body = addr_option("dlif_lla") }
option_defs[70] = {
	min = 2,
	body = function(tvb, tree, len)
		tree:add(F.dlif_l2_res, tvb(2, 2))
		if len > 2 then
			tree:add(F.dlif_l2, tvb(4, len - 2))
		end
	end,
}

-- The project's DMM options are added to option_defs by install_dmm()
-- below, keyed by their (configurable) codepoints.
local dmm_option_defs = {}

local function option_name(t)
	local d = dmm_option_defs[t]
	if d then return d.name end
	return new_option_names[t] or ("Unknown option " .. t)
end

local function lookup_option(t)
	return dmm_option_defs[t] or option_defs[t]
end

-- dissect_option dissects one option (tvb = the whole option, Type octet
-- first, exactly 2+Length octets or fewer when it overruns) into tree.
-- mh_off is the option's offset from the start of the Mobility Header, or
-- nil when unknown. Returns the number of octets consumed.
local function dissect_option(tvb, pinfo, tree, mh_off, declared_len)
	local t = tvb(0, 1):uint()
	local len = declared_len or tvb(1, 1):uint()
	local name = option_name(t)
	local ti = tree:add(F.opt, tvb())
	ti:set_text("MIPv6 Option - " .. name)
	ti:add(F.opt_type, tvb(0, 1)):append_text(" (" .. name .. ")")
	ti:add(F.opt_len, tvb(1, 1))
	if mh_off then
		ti:add(F.opt_offset, mh_off):set_generated()
	end
	local avail = tvb:len() - 2
	if avail < len then
		ti:add_proto_expert_info(E.opt_overrun,
			string.format("Option %s: Length %d runs past the end of the Mobility Header (%d octets left)",
				name, len, avail))
		if avail > 0 then ti:add(F.opt_data, tvb(2, avail)) end
		return tvb:len()
	end
	local def = lookup_option(t)
	if def == nil then
		if len > 0 then ti:add(F.opt_data, tvb(2, len)) end
		ti:add_proto_expert_info(E.unknown_opt)
		return len + 2
	end
	if def.align and mh_off and proto.prefs.check_alignment then
		local x, y = def.align[1], def.align[2]
		if mh_off % x ~= y % x then
			ti:add_proto_expert_info(E.opt_align,
				string.format("%s needs alignment %dn+%d, found at offset %d", name, x, y, mh_off))
		end
	end
	local want = nil
	if def.validate then
		want = def.validate(tvb, len)
	elseif def.lens then
		if not def.lens[len] then
			local l = {}
			for k in pairs(def.lens) do l[#l + 1] = k end
			table.sort(l)
			want = table.concat(l, " or ")
		end
	elseif len < (def.min or 0) then
		want = "at least " .. tostring(def.min)
	end
	if want then
		ti:add_proto_expert_info(E.opt_len,
			string.format("%s: Length %d, expected %s", name, len, want))
		if len > 0 then ti:add(F.opt_data, tvb(2, len)) end
		return len + 2
	end
	def.body(tvb(0, len + 2):tvb(), ti, len, pinfo)
	local summary = def.summary and def.summary(tvb(0, len + 2):tvb(), len)
	if summary then ti:append_text(": " .. summary) end
	return len + 2
end

-- Entry point from tshark's mip6.option table (inside tshark's own
-- messages): the tvb holds exactly one option.
function opt_proto.dissector(tvb, pinfo, tree)
	if tvb:len() < 2 then return 0 end
	local mh_off = nil
	if current_mh_start then
		mh_off = tvb:offset() - current_mh_start
		if mh_off < 0 then mh_off = nil end
	end
	return dissect_option(tvb, pinfo, tree, mh_off)
end

local mip6_option_table = DissectorTable.get("mip6.option")

-- dissect_options walks the options of a message this plugin dissects
-- (tvb = the whole Mobility Header, options from off to mh_end).
local function dissect_options(tvb, pinfo, tree, off, mh_end)
	if off >= mh_end then return end
	local ot = tree:add(F.opts, tvb(off, mh_end - off))
	while off < mh_end do
		local t = tvb(off, 1):uint()
		if t == 0 then
			local pi = ot:add(F.pad1, tvb(off, 1))
			pi:set_text("MIPv6 Option - Pad1")
			off = off + 1
		elseif off + 1 >= mh_end then
			local pi = ot:add(F.opt, tvb(off, 1))
			pi:set_text("MIPv6 Option - truncated (no Length octet)")
			pi:add_proto_expert_info(E.opt_overrun)
			return
		else
			local len = tvb(off + 1, 1):uint()
			if off + 2 + len > mh_end then
				dissect_option(tvb(off, mh_end - off):tvb(), pinfo, ot, off, len)
				return
			end
			local otvb = tvb(off, 2 + len):tvb()
			if t == 1 then
				local pi = ot:add(F.padn, tvb(off, 2 + len))
				pi:set_text("MIPv6 Option - PadN (" .. (2 + len) .. " octets)")
				pi:add(F.padn_len, tvb(off + 1, 1))
			elseif lookup_option(t) or new_option_names[t] then
				dissect_option(otvb, pinfo, ot, off)
			else
				-- tshark's own option dissectors (MN-ID, HNP, Vendor-Specific...).
				-- (Not DissectorTable:try, which falls back to the "data"
				-- dissector for a type nobody registered.) An exception in
				-- there (malformed option) has already been shown by tshark
				-- when Dissector:call turns it into a Lua error.
				local d = mip6_option_table:get_dissector(t)
				if d then
					pcall(d.call, d, otvb, pinfo, ot)
				else
					dissect_option(otvb, pinfo, ot, off)
				end
			end
			off = off + 2 + len
		end
	end
end

------------------------------------------------------------------------
-- Messages
------------------------------------------------------------------------

-- Each message: fixed length after the 6-octet common header, a body
-- dissector for the fixed part and an Info-column summary.
local msg_defs = {}

msg_defs[19] = {
	fixed = 6,
	body = function(tvb, tree)
		local st = tree:add(F.upn, tvb(6, 6))
		st:add(F.upn_seq, tvb(6, 2))
		st:add(F.upn_reason, tvb(8, 2))
		local fl = st:add(F.upn_flags, tvb(10, 2))
		fl:add(F.upn_a, tvb(10, 2))
		fl:add(F.upn_d, tvb(10, 2))
		fl:add(F.upn_res, tvb(10, 2))
		local r = tvb(8, 2):uint()
		return string.format("seq=%d reason=%s", tvb(6, 2):uint(), upn_reasons[r] or tostring(r))
	end,
}
msg_defs[20] = {
	fixed = 6,
	body = function(tvb, tree)
		local st = tree:add(F.upa, tvb(6, 6))
		st:add(F.upa_seq, tvb(6, 2))
		st:add(F.upa_status, tvb(8, 1))
		st:add(F.upa_res, tvb(9, 3))
		local s = tvb(8, 1):uint()
		return string.format("seq=%d status=%s", tvb(6, 2):uint(), upa_status[s] or tostring(s))
	end,
}
msg_defs[21] = {
	fixed = 6,
	body = function(tvb, tree)
		local st = tree:add(F.fb, tvb(6, 6))
		local ft = tvb(6, 2):uint()
		st:add(F.fb_type, tvb(6, 2))
		st:add(F.fb_seq, tvb(8, 2))
		if ft == 2 then
			st:add(F.fb_status, tvb(10, 1))
		else
			st:add(F.fb_trigger, tvb(10, 1))
		end
		local fl = st:add(F.fb_flags, tvb(11, 1))
		fl:add(F.fb_a, tvb(11, 1))
		return string.format("%s seq=%d", fb_types[ft] or ("FB Type " .. ft), tvb(8, 2):uint())
	end,
}
msg_defs[22] = {
	fixed = 2,
	body = function(tvb, tree)
		local st = tree:add(F.sq, tvb(6, 2))
		st:add(F.sq_seq, tvb(6, 1))
		st:add(F.sq_res, tvb(7, 1))
		return string.format("seq=%d", tvb(6, 1):uint())
	end,
}
msg_defs[23] = {
	fixed = 2,
	body = function(tvb, tree)
		local st = tree:add(F.sr, tvb(6, 2))
		st:add(F.sr_seq, tvb(6, 1))
		local fl = st:add(F.sr_flags, tvb(7, 1))
		fl:add(F.sr_i, tvb(7, 1))
		return string.format("seq=%d", tvb(6, 1):uint())
	end,
}

-- DMM messages (filled by install_dmm): dmm_msg_lookup(tvb) returns the
-- definition of the DMM message in tvb, or nil.
local dmm_msg_lookup = function(tvb) return nil end

-- dissect_mh dissects one Mobility Header with the definition def.
local function dissect_mh(tvb, pinfo, tree, def)
	local mhtype = tvb(2, 1):uint()
	local name = def.name or mh_type_names[mhtype] or ("MH Type " .. mhtype)
	pinfo.cols.protocol:set("MIPv6")
	local root = tree:add(proto, tvb())
	root:set_text("Mobile IPv6 (pmipdmm): " .. name)
	local hdrlen = tvb(1, 1):uint()
	local declared = (hdrlen + 1) * 8
	root:add(F.proto, tvb(0, 1))
	local hl = root:add(F.hdrlen, tvb(1, 1))
	hl:append_text(" (" .. declared .. " bytes)")
	root:add(F.mhtype, tvb(2, 1))
	root:add(F.reserved, tvb(3, 1))
	root:add(F.csum, tvb(4, 2))

	local avail = tvb:len()
	local mh_end = declared
	if declared ~= tvb:reported_len() then
		hl:add_proto_expert_info(E.hdrlen_mismatch,
			string.format("Header length says %d octets, %d follow", declared, tvb:reported_len()))
	end
	if mh_end > avail then mh_end = avail end
	if declared < 6 + def.fixed then
		hl:add_proto_expert_info(E.hdrlen_short,
			string.format("Header length gives %d octets, %s needs at least %d", declared, name, 6 + def.fixed))
	end
	if avail < 6 + def.fixed then
		root:add_proto_expert_info(E.truncated)
		if avail > 6 then root:add(F.data, tvb(6, avail - 6)) end
		pinfo.cols.info:set(name .. " (truncated)")
		return avail
	end
	local summary = def.body(tvb, root, pinfo)
	local info = name
	if summary and summary ~= "" then info = info .. " " .. summary end
	pinfo.cols.info:set(info)
	local opt_start = 6 + def.fixed
	if mh_end < opt_start then mh_end = opt_start end
	dissect_options(tvb, pinfo, root, opt_start, mh_end)
	return avail
end

------------------------------------------------------------------------
-- Entry points on ip.proto 135 and udp.port 5436
------------------------------------------------------------------------

local ip_table = DissectorTable.get("ip.proto")
local udp_table = DissectorTable.get("udp.port")
local orig_ip = ip_table:get_dissector(135) or Dissector.get("mip6")
local orig_udp = udp_table:get_dissector(5436) or Dissector.get("mip6")

local function find_def(tvb)
	local d = dmm_msg_lookup(tvb)
	if d then return d end
	return msg_defs[tvb(2, 1):uint()]
end

local function entry(orig)
	return function(tvb, pinfo, tree)
		-- Fewer than the 6 octets of the common header: tshark's mip6
		-- reports that as it always does.
		if tvb:len() >= 6 then
			local def = find_def(tvb)
			if def then
				current_mh_start = tvb:offset()
				return dissect_mh(tvb, pinfo, tree, def)
			end
		end
		current_mh_start = tvb:offset()
		-- Dissector:call turns an exception thrown by mip6 (a malformed
		-- message) into a Lua error after it has already added tshark's
		-- "Malformed Packet" item; swallow the Lua error so that the
		-- output is tshark's own.
		local ok, n = pcall(orig.call, orig, tvb, pinfo, tree)
		if ok then return n end
		return tvb:len()
	end
end

local ip_proto = Proto("pmipdmm_ip", "PMIPv6/DMM Mobility Header (IPv6 Next Header 135)")
local udp_proto = Proto("pmipdmm_udp", "PMIPv6/DMM Mobility Header (UDP 5436)")
ip_proto.dissector = entry(orig_ip)
udp_proto.dissector = entry(orig_udp)
ip_table:add(135, ip_proto)
udp_table:add(5436, udp_proto)

------------------------------------------------------------------------
-- Option table registration (standard options; DMM ones in install_dmm)
------------------------------------------------------------------------

for t in pairs(new_option_names) do
	mip6_option_table:add(t, opt_proto)
end

------------------------------------------------------------------------
-- The project's DMM messages and options (docs/wire-format.md; mh/dmm*.go)
------------------------------------------------------------------------
--
-- Messages travel in the carrier MH Type (default 11, RFC 5096
-- Experimental Mobility Header) with this message data:
--   DMM Type(1) | Status(1) | Sequence #(2) | Flags/Reserved(2) | options
-- (options at offset 12). An Experimental message whose first data octet is
-- not a DMM type is left to tshark's mip6.

local DEFAULTS = {
	dmm_carrier_mh_type = 11,
	dmm_location_query = 1,
	dmm_location_reply = 2,
	dmm_redirect = 3,
	dmm_redirect_ack = 4,
	dmm_opt_location_query = 240,
	dmm_opt_routing_location = 241,
	dmm_opt_mobility_context = 242,
}

proto.prefs.dmm_enabled = Pref.bool("Dissect the project's DMM messages and options", true,
	"Decode Location Query/Reply, Redirect/Redirect Ack and the DMM options at the codepoints below")
proto.prefs.dmm_carrier_mh_type = Pref.uint("DMM carrier MH Type", DEFAULTS.dmm_carrier_mh_type,
	"MH Type that carries the DMM messages (11 = Experimental Mobility Header, or 24-255)")
proto.prefs.dmm_location_query = Pref.uint("DMM Type: Location Query", DEFAULTS.dmm_location_query,
	"DMM Type octet (first octet of the message data) of a Location Query")
proto.prefs.dmm_location_reply = Pref.uint("DMM Type: Location Reply", DEFAULTS.dmm_location_reply,
	"DMM Type octet of a Location Reply")
proto.prefs.dmm_redirect = Pref.uint("DMM Type: Redirect", DEFAULTS.dmm_redirect,
	"DMM Type octet of a Redirect")
proto.prefs.dmm_redirect_ack = Pref.uint("DMM Type: Redirect Ack", DEFAULTS.dmm_redirect_ack,
	"DMM Type octet of a Redirect Ack")
proto.prefs.dmm_opt_location_query = Pref.uint("Option type: Location Query", DEFAULTS.dmm_opt_location_query,
	"Mobility option type of the Location Query option")
proto.prefs.dmm_opt_routing_location = Pref.uint("Option type: Routing Location", DEFAULTS.dmm_opt_routing_location,
	"Mobility option type of the Routing Location option")
proto.prefs.dmm_opt_mobility_context = Pref.uint("Option type: Mobility Context", DEFAULTS.dmm_opt_mobility_context,
	"Mobility option type of the Mobility Context option")

-- docs/wire-format.md "Status values".
local dmm_status = {
	[0] = "Accepted", [128] = "Reason unspecified", [129] = "Not authorized",
	[130] = "Insufficient resources", [131] = "Location unknown", [132] = "Invalid request",
	[133] = "Stale location",
}
local lq_types = { [1] = "Home address", [2] = "Prefix", [3] = "MN-ID" }
local mnid_subtypes = {
	[1] = "NAI", [2] = "IPv6 address", [3] = "IMSI", [4] = "P-TMSI", [5] = "EUI-48",
	[6] = "EUI-64", [7] = "GUTI", [8] = "DUID",
}
local att_names = {
	[0] = "Reserved", [1] = "Virtual", [2] = "PPP", [3] = "IEEE 802.3", [4] = "IEEE 802.11a/b/g",
	[5] = "IEEE 802.16e", [6] = "3GPP GERAN", [7] = "3GPP UTRAN", [8] = "3GPP E-UTRAN",
	[9] = "3GPP2 eHRPD", [10] = "3GPP2 HRPD", [11] = "3GPP2 1xRTT", [12] = "3GPP2 UMB",
	[13] = "3GPP NB-IoT",
}

-- Message fields.
field("dmm", ProtoField.none("pmipdmm.dmm", "DMM message"))
field("dmm_type", ProtoField.uint8("pmipdmm.dmm.type", "DMM Type", base.DEC))
field("dmm_status", ProtoField.uint8("pmipdmm.dmm.status", "Status", base.DEC, dmm_status))
field("dmm_reserved", ProtoField.uint8("pmipdmm.dmm.reserved", "Reserved (Status octet of a request)", base.HEX))
field("dmm_seq", ProtoField.uint16("pmipdmm.dmm.seq", "Sequence number", base.DEC))
field("dmm_flags", ProtoField.uint16("pmipdmm.dmm.flags", "Flags", base.HEX))
field("dmm_a", ProtoField.bool("pmipdmm.dmm.a_flag", "Redirect Ack requested (A)", 16, nil, 0x8000))

-- Location Query option.
field("lq_type", ProtoField.uint8("pmipdmm.opt.lq.type", "Query Type", base.DEC, lq_types))
field("lq_plen", ProtoField.uint8("pmipdmm.opt.lq.plen", "Prefix length (Qualifier)", base.DEC))
field("lq_addr", ProtoField.ipv6("pmipdmm.opt.lq.addr", "Home address / prefix"))
field("lq_subtype", ProtoField.uint8("pmipdmm.opt.lq.mnid_subtype", "MN-ID subtype (Qualifier)", base.DEC, mnid_subtypes))
field("lq_mnid", ProtoField.bytes("pmipdmm.opt.lq.mnid", "MN Identifier"))
field("lq_mnid_text", ProtoField.string("pmipdmm.opt.lq.mnid_text", "MN Identifier (text)"))
field("lq_qual", ProtoField.uint8("pmipdmm.opt.lq.qualifier", "Qualifier", base.DEC))
field("lq_value", ProtoField.bytes("pmipdmm.opt.lq.value", "Value"))

-- Routing Location option.
field("rl_flags", ProtoField.uint8("pmipdmm.opt.rl.flags", "Flags", base.HEX))
field("rl_f", ProtoField.bool("pmipdmm.opt.rl.f_flag", "Forwarding (F)", 8, nil, 0x80))
field("rl_plen", ProtoField.uint8("pmipdmm.opt.rl.plen", "Prefix length", base.DEC))
field("rl_prefix", ProtoField.ipv6("pmipdmm.opt.rl.prefix", "Prefix"))
field("rl_anchor", ProtoField.ipv6("pmipdmm.opt.rl.anchor_mr", "Anchor MR"))
field("rl_current", ProtoField.ipv6("pmipdmm.opt.rl.current_mr", "Current MR"))
field("rl_lifetime", ProtoField.uint32("pmipdmm.opt.rl.lifetime", "Lifetime (s)", base.DEC))

-- Mobility Context option.
field("mc_flags", ProtoField.uint8("pmipdmm.opt.mc.flags", "Flags", base.HEX))
field("mc_r", ProtoField.bool("pmipdmm.opt.mc.r_flag", "Previous MR sends the Redirects (R)", 8, nil, 0x80))
field("mc_l", ProtoField.bool("pmipdmm.opt.mc.l_flag", "LM already updated (L)", 8, nil, 0x40))
field("mc_t", ProtoField.bool("pmipdmm.opt.mc.t_flag", "Timestamp ordering (T)", 8, nil, 0x20))
field("mc_att", ProtoField.uint8("pmipdmm.opt.mc.att", "Access Technology Type", base.DEC, att_names))
field("mc_rlife", ProtoField.uint32("pmipdmm.opt.mc.remaining_lifetime", "Remaining lifetime (s)", base.DEC))
field("mc_seq", ProtoField.uint16("pmipdmm.opt.mc.last_seq", "Last sequence number", base.DEC))
field("mc_flife", ProtoField.uint16("pmipdmm.opt.mc.fwd_lifetime", "Forwarding lifetime (s)", base.DEC))
field("mc_ts", ProtoField.uint64("pmipdmm.opt.mc.last_timestamp", "Last timestamp (RFC 5213 48.16)", base.HEX))

proto.fields = fields

local function printable(tvbr)
	local s = tvbr:raw()
	if #s == 0 then return nil end
	if s:find("[^\32-\126]") then return nil end
	return s
end

local dmm_option_bodies = {
	location_query = {
		name = "Location Query (DMM)", align = { 8, 4 },
		validate = function(tvb, len)
			if len < 2 then return "at least 2" end
			local qt = tvb(2, 1):uint()
			if (qt == 1 or qt == 2) and len ~= 18 then return "18 for Query Type " .. qt end
			if qt == 3 and len < 3 then return "at least 3 for Query Type 3" end
			return nil
		end,
		body = function(tvb, tree, len)
			local qt = tvb(2, 1):uint()
			tree:add(F.lq_type, tvb(2, 1))
			if qt == 1 or qt == 2 then
				tree:add(F.lq_plen, tvb(3, 1))
				tree:add(F.lq_addr, tvb(4, 16))
			elseif qt == 3 then
				tree:add(F.lq_subtype, tvb(3, 1))
				tree:add(F.lq_mnid, tvb(4, len - 2))
				local txt = printable(tvb(4, len - 2))
				if txt then tree:add(F.lq_mnid_text, tvb(4, len - 2), txt) end
			else
				tree:add(F.lq_qual, tvb(3, 1))
				if len > 2 then tree:add(F.lq_value, tvb(4, len - 2)) end
			end
		end,
	},
	routing_location = {
		name = "Routing Location (DMM)", lens = { [54] = true }, align = { 8, 4 },
		body = function(tvb, tree)
			local fl = tree:add(F.rl_flags, tvb(2, 1))
			fl:add(F.rl_f, tvb(2, 1))
			tree:add(F.rl_plen, tvb(3, 1))
			tree:add(F.rl_prefix, tvb(4, 16))
			tree:add(F.rl_anchor, tvb(20, 16))
			tree:add(F.rl_current, tvb(36, 16))
			tree:add(F.rl_lifetime, tvb(52, 4))
		end,
		summary = function(tvb)
			return string.format("%s/%d anchor %s current %s", tostring(tvb(4, 16):ipv6()),
				tvb(3, 1):uint(), tostring(tvb(20, 16):ipv6()), tostring(tvb(36, 16):ipv6()))
		end,
	},
	mobility_context = {
		name = "Mobility Context (DMM)", lens = { [18] = true }, align = { 8, 4 },
		body = function(tvb, tree)
			local fl = tree:add(F.mc_flags, tvb(2, 1))
			fl:add(F.mc_r, tvb(2, 1))
			fl:add(F.mc_l, tvb(2, 1))
			fl:add(F.mc_t, tvb(2, 1))
			tree:add(F.mc_att, tvb(3, 1))
			tree:add(F.mc_rlife, tvb(4, 4))
			tree:add(F.mc_seq, tvb(8, 2))
			tree:add(F.mc_flife, tvb(10, 2))
			tree:add(F.mc_ts, tvb(12, 8))
		end,
	},
}

local function dmm_msg_def(name, is_reply)
	return {
		name = name, fixed = 6,
		body = function(tvb, tree)
			local st = tree:add(F.dmm, tvb(6, 6))
			st:set_text(name)
			st:add(F.dmm_type, tvb(6, 1)):append_text(" (" .. name .. ")")
			if is_reply then
				st:add(F.dmm_status, tvb(7, 1))
			else
				st:add(F.dmm_reserved, tvb(7, 1))
			end
			st:add(F.dmm_seq, tvb(8, 2))
			local fl = st:add(F.dmm_flags, tvb(10, 2))
			fl:add(F.dmm_a, tvb(10, 2))
			local info = string.format("seq=%d", tvb(8, 2):uint())
			if is_reply then
				local s = tvb(7, 1):uint()
				info = info .. " status=" .. (dmm_status[s] or tostring(s))
			end
			return info
		end,
	}
end

local dmm_msgs = {
	location_query = dmm_msg_def("Location Query", false),
	location_reply = dmm_msg_def("Location Reply", true),
	redirect = dmm_msg_def("Redirect", false),
	redirect_ack = dmm_msg_def("Redirect Ack", true),
}

-- What install_dmm put into tshark's mip6.option table, to undo it on a
-- preference change: type -> previous dissector (or false).
local installed_opts = {}

local function install_dmm()
	for t, prev in pairs(installed_opts) do
		if prev then
			mip6_option_table:add(t, prev)
		elseif new_option_names[t] then
			mip6_option_table:add(t, opt_proto)
		else
			mip6_option_table:remove(t, opt_proto)
		end
	end
	installed_opts = {}
	dmm_option_defs = {}
	if not proto.prefs.dmm_enabled then
		dmm_msg_lookup = function(tvb) return nil end
		return
	end
	local p = proto.prefs
	local by_type = {
		[p.dmm_location_query] = dmm_msgs.location_query,
		[p.dmm_location_reply] = dmm_msgs.location_reply,
		[p.dmm_redirect] = dmm_msgs.redirect,
		[p.dmm_redirect_ack] = dmm_msgs.redirect_ack,
	}
	local carrier = p.dmm_carrier_mh_type
	dmm_msg_lookup = function(tvb)
		if tvb:len() < 7 or tvb(2, 1):uint() ~= carrier then return nil end
		return by_type[tvb(6, 1):uint()]
	end
	for key, def in pairs(dmm_option_bodies) do
		local t = p["dmm_opt_" .. key]
		if t >= 2 and t <= 255 then
			dmm_option_defs[t] = def
			if installed_opts[t] == nil then
				installed_opts[t] = mip6_option_table:get_dissector(t) or false
			end
			mip6_option_table:add(t, opt_proto)
		end
	end
end

install_dmm()
proto.prefs_changed = function()
	install_dmm()
end
