//! Attack tools by their user agents (a signal for the detectors).

/// Lower-case user-agent fragments of well-known attack and scanning tools.
pub const ATTACK_TOOLS: [&str; 22] = [
    "sqlmap",
    "nikto",
    "nmap",
    "masscan",
    "zgrab",
    "gobuster",
    "dirbuster",
    "dirb/",
    "wpscan",
    "nuclei",
    "hydra",
    "ffuf",
    "feroxbuster",
    "acunetix",
    "nessus",
    "openvas",
    "w3af",
    "arachni",
    "skipfish",
    "commix",
    "havij",
    "netsparker",
];

/// Which bytes start a name in [`ATTACK_TOOLS`] (both cases): one table lookup per byte of a
/// user agent rules out most positions before any name is compared.
const TOOL_FIRST: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < ATTACK_TOOLS.len() {
        let b = ATTACK_TOOLS[i].as_bytes()[0];
        t[b.to_ascii_lowercase() as usize] = true;
        t[b.to_ascii_uppercase() as usize] = true;
        i += 1;
    }
    t
};

/// Whether a user agent names a known attack tool (ASCII case-insensitive), in one pass
/// over the user agent.
pub fn is_attack_tool(ua: &[u8]) -> bool {
    (0..ua.len()).any(|i| {
        TOOL_FIRST[usize::from(ua[i])]
            && ATTACK_TOOLS.iter().any(|t| {
                let t = t.as_bytes();
                ua.get(i..i + t.len())
                    .is_some_and(|w| w.eq_ignore_ascii_case(t))
            })
    })
}
