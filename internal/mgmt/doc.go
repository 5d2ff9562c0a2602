// Package mgmt is the management API of pmipd: HTTP/JSON over a local unix
// socket (mode 0600: the file system is the authentication), or optionally
// over loopback TCP with a bearer token, and a Go client for it (what
// pmipctl uses).
//
// Like gobgp's gRPC layer, it is a thin adapter over the roles' own Go
// API: the Server takes small provider interfaces that *lma.LMA,
// *mag.MAG, *lm.LM, *haa.HAA, *mr.MR and a dataplane.Driver satisfy as
// they are, so the daemon plugs in whichever roles it runs. An endpoint whose role
// is not running answers 404 with error "role_not_running".
//
// Endpoints (all answer JSON; errors are {"error": code, "detail": text}):
//
//	GET  /v1/bindings                LMA binding cache          {"bindings": [Binding]}
//	GET  /v1/bindings/{mn}           the bindings of one MN     {"bindings": [Binding]} (404 not_found if none)
//	POST /v1/bindings/{mn}/revoke    RFC 5846 revocation        RevokeRequest -> {"results": [RevokeResult]}
//	GET  /v1/bul                     MAG binding update list    {"bul": [BULEntry]}
//	GET  /v1/locations?address=A | ?prefix=P | ?mn=M
//	                                 LM records                 {"locations": [Location]}
//	GET  /v1/pools                   HAA pools with usage       {"pools": [Pool]}
//	GET  /v1/allocations[?pool=P | ?mn=M]
//	                                 HAA allocations            {"allocations": [Allocation]}
//	GET  /v1/mr/nodes                MR: attached nodes         {"nodes": [MRNode]}
//	GET  /v1/mr/locations            MR: location cache and correspondents' MRs
//	                                                            MRLocations
//	GET  /v1/mr/departures           MR: departed nodes (held, forwarded) and
//	                                 every prefix held in the punt path   MRDepartures
//	GET  /v1/peers                   heartbeat state (RFC 5847) {"peers": [Peer]}
//	GET  /v1/counters                every role's counters      {"counters": [Counter]}
//	GET  /v1/dataplane               entries read back from the kernel (Driver.List),
//	                                 compared with what the roles want   Dataplane
//	POST /v1/config/check            body: a YAML configuration; validated with
//	                                 internal/config                      ConfigCheck
//	GET  /v1/status                  the daemon: node, roles, driver     Status
//	POST /v1/reload                  re-read and apply the configuration file (as SIGHUP)
//	                                 ReloadResult, or 422 reload_refused with the reason
//
// Error codes: bad_request (400), unauthorized (401), not_found (404),
// role_not_running (404), method_not_allowed (405), reload_refused (422),
// timeout (504), internal (500).
package mgmt
