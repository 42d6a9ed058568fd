//! The lab's real servers, from Debian packages, each in its namespace: nginx for the web (international sites
//! and anchors, the domestic web server, the national blockpage) and dnsmasq for DNS (each ISP's resolver and a
//! public-style resolver abroad).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::LabError;
use super::country::{
    APP_SERVER, APP_WEB, BLOCKPAGE, ISPS, NS_DOMESTIC, NS_INTL, NS_SATELLITE, PUBLIC_RESOLVER, SITES, TLS_SITE,
    isp_uplink, ns_isp, site_addr,
};
use super::net::in_ns;
use super::nodes::Binaries;
use crate::wait_until;

/// The page the international anchors and sites serve: 64 KiB, so throughput is measurable.
fn site_page() -> String {
    let filler = "<p>Vigil lab: an ordinary page on an ordinary server abroad.</p>\n".repeat(1000);
    format!(
        "<!doctype html><html><head><title>Lab site</title></head><body>{}</body></html>",
        &filler[..65_000]
    )
}

/// The national blockpage, in the shape of Iran's (an iframe to 10.10.34.34), which the probe's built-in
/// fingerprints recognise.
const BLOCKPAGE_HTML: &str = "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1256\">\
<title>M1-6</title></head><body><iframe src=\"http://10.10.34.34?type=Invalid Site&policy=MainPolicy\" \
style=\"width: 100%; height: 100%\" scrolling=\"no\" marginwidth=\"0\" marginheight=\"0\" frameborder=\"0\" \
vspace=\"0\" hspace=\"0\"></iframe></body></html>";

/// Running servers; stopped on drop.
pub struct Servers {
    /// Each server: its name, its process, and the file its output goes to.
    children: Vec<(String, Child, PathBuf)>,
    /// Each ISP resolver's hosts file (index: ISP − 1).
    pub isp_hosts: Vec<PathBuf>,
    /// The lab CA's certificate (PEM), which every probe trusts for measuring.
    pub ca_file: PathBuf,
    /// The HTTPS site's certificates: where nginx reads them, and the valid and the expired pair.
    tls: TlsSiteFiles,
}

/// Where the HTTPS site's certificate and key live: the pair nginx serves, and the two it is switched between.
struct TlsSiteFiles {
    served: (PathBuf, PathBuf),
    valid: (PathBuf, PathBuf),
    expired: (PathBuf, PathBuf),
}

impl TlsSiteFiles {
    /// Makes the lab CA and two certificates for the HTTPS site under `dir`: one valid now, one that expired in
    /// 2021 — signed by the same CA, so the only thing wrong with the second is its date.
    fn create(dir: &Path) -> Result<(PathBuf, Self), LabError> {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let setup = |e: rcgen::Error| LabError::Setup(format!("lab certificates: {e}"));
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(setup)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().map_err(setup)?;
        let ca_cert = ca_params.self_signed(&ca_key).map_err(setup)?;
        let ca_file = dir.join("lab-ca.pem");
        write(&ca_file, &ca_cert.pem())?;
        let issuer = Issuer::new(ca_params, ca_key);
        let pair = |name: &str, expired: bool| -> Result<(PathBuf, PathBuf), LabError> {
            let mut params = CertificateParams::new(vec![TLS_SITE.to_owned()]).map_err(setup)?;
            if expired {
                params.not_before = rcgen::date_time_ymd(2020, 1, 1);
                params.not_after = rcgen::date_time_ymd(2021, 1, 1);
            }
            let key = KeyPair::generate().map_err(setup)?;
            let cert = params.signed_by(&key, &issuer).map_err(setup)?;
            let paths = (dir.join(format!("{name}.crt")), dir.join(format!("{name}.key")));
            write(&paths.0, &cert.pem())?;
            write(&paths.1, &key.serialize_pem())?;
            Ok(paths)
        };
        let files = TlsSiteFiles {
            valid: pair("tls-site-valid", false)?,
            expired: pair("tls-site-expired", true)?,
            served: (dir.join("tls-site.crt"), dir.join("tls-site.key")),
        };
        files.serve(false)?;
        Ok((ca_file, files))
    }

    /// Puts the valid or the expired pair where nginx reads it.
    fn serve(&self, expired: bool) -> Result<(), LabError> {
        let (cert, key) = if expired { &self.expired } else { &self.valid };
        for (from, to) in [(cert, &self.served.0), (key, &self.served.1)] {
            std::fs::copy(from, to).map_err(|e| LabError::io(to, e))?;
        }
        Ok(())
    }
}

impl Servers {
    /// Writes the servers' files under `dir` and starts them — the lab's own HTTP/3 server and the satellite path's
    /// program among them (`bins`); returns once each server is listening.
    pub fn start(dir: &Path, bins: &Binaries) -> Result<Self, LabError> {
        std::fs::create_dir_all(dir).map_err(|e| LabError::io(dir, e))?;
        let (ca_file, tls) = TlsSiteFiles::create(dir)?;
        let tls_addr = site_addr(TLS_SITE).ok_or_else(|| LabError::Setup(format!("{TLS_SITE} has no address")))?;
        // The HTTPS site announces HTTP/3 on its own address, as most large sites do; `vigil-lab-h3` serves it.
        let tls_site = format!(
            "server {{ listen {}:443 ssl; server_name {TLS_SITE}; ssl_certificate {}; ssl_certificate_key {}; \
             add_header Alt-Svc 'h3=\":443\"; ma=86400' always; root {}; index index.html; }}",
            tls_addr,
            tls.served.0.display(),
            tls.served.1.display(),
            dir.join("nginx-intl/www").display()
        );
        let mut servers = Servers {
            children: Vec::new(),
            isp_hosts: Vec::new(),
            ca_file,
            tls,
        };
        let intl = dir.join("nginx-intl");
        write(&intl.join("www/index.html"), &site_page())?;
        // The app's chat server: a port that accepts connections (the probes only connect).
        let app_server = format!(
            "server {{ listen {}:{}; location / {{ return 200; }} }}",
            APP_SERVER.0, APP_SERVER.1
        );
        servers.nginx(NS_INTL, &intl, &format!("{tls_site}\n{app_server}"))?;
        let dom = dir.join("nginx-dom");
        write(
            &dom.join("www/index.html"),
            "<!doctype html><html><head><title>National portal</title></head><body>Domestic news.</body></html>",
        )?;
        write(&dom.join("blockpage/index.html"), BLOCKPAGE_HTML)?;
        let blockpage_server = format!(
            "server {{ listen {BLOCKPAGE}:80; root {}; location / {{ try_files /index.html =404; }} }}",
            dom.join("blockpage").display()
        );
        servers.nginx(NS_DOMESTIC, &dom, &blockpage_server)?;

        let public = dir.join("dns-public.hosts");
        write(&public, &hosts(&[]))?;
        servers.dnsmasq(NS_INTL, PUBLIC_RESOLVER, &public, dir)?;
        for isp in 1..=ISPS {
            let file = dir.join(format!("dns-isp{isp}.hosts"));
            write(&file, &hosts(&[]))?;
            servers.dnsmasq(&ns_isp(isp), isp_uplink(isp), &file, dir)?;
            servers.isp_hosts.push(file);
        }
        let log = dir.join("h3.log");
        let h3_args = [
            "--listen".to_owned(),
            format!("{tls_addr}:443"),
            "--cert".to_owned(),
            servers.tls.served.0.display().to_string(),
            "--key".to_owned(),
            servers.tls.served.1.display().to_string(),
            "--page".to_owned(),
            intl.join("www/index.html").display().to_string(),
        ];
        let h3_args: Vec<&str> = h3_args.iter().map(String::as_str).collect();
        let child = spawn(NS_INTL, &bins.h3.display().to_string(), &h3_args, &log)?;
        servers.children.push(("vigil-lab-h3".to_owned(), child, log));
        wait_listening(NS_INTL, "-lun", &format!("{tls_addr}:443"))?;
        let sky = bins.sky.display().to_string();
        let log = dir.join("sky.log");
        let child = spawn(NS_SATELLITE, &sky, &[], &log)?;
        servers.children.push(("vigil-lab-sky".to_owned(), child, log));
        Ok(servers)
    }

    fn nginx(&mut self, ns: &str, root: &Path, extra_server: &str) -> Result<(), LabError> {
        for sub in ["tmp", "logs"] {
            std::fs::create_dir_all(root.join(sub)).map_err(|e| LabError::io(root, e))?;
        }
        let r = root.display();
        let conf = format!(
            "daemon off;\nmaster_process on;\nworker_processes 1;\nuser root;\npid {r}/nginx.pid;\n\
             error_log {r}/logs/error.log warn;\nevents {{ worker_connections 512; }}\nhttp {{\n\
             access_log off;\nclient_body_temp_path {r}/tmp/body;\nproxy_temp_path {r}/tmp/proxy;\n\
             fastcgi_temp_path {r}/tmp/fastcgi;\nuwsgi_temp_path {r}/tmp/uwsgi;\nscgi_temp_path {r}/tmp/scgi;\n\
             default_type text/html;\nkeepalive_timeout 5;\n\
             server {{ listen 80 default_server; root {r}/www; index index.html; }}\n{extra_server}\n}}\n"
        );
        let conf_path = root.join("nginx.conf");
        write(&conf_path, &conf)?;
        let conf_arg = conf_path.display().to_string();
        let prefix = format!("{r}/");
        let log = root.join("logs/stderr.log");
        let child = spawn(ns, "nginx", &["-c", &conf_arg, "-p", &prefix], &log)?;
        self.children.push((format!("nginx in {ns}"), child, log));
        wait_listening(ns, "-ltn", ":80")
    }

    fn dnsmasq(&mut self, ns: &str, listen: std::net::Ipv4Addr, hosts: &Path, dir: &Path) -> Result<(), LabError> {
        let log = dir.join(format!("dnsmasq-{ns}.log"));
        let args = [
            "--keep-in-foreground".to_owned(),
            "--conf-file=/dev/null".to_owned(),
            "--no-resolv".to_owned(),
            "--no-hosts".to_owned(),
            format!("--addn-hosts={}", hosts.display()),
            format!("--listen-address={listen}"),
            "--bind-interfaces".to_owned(),
            "--port=53".to_owned(),
            "--local-ttl=0".to_owned(),
            "--user=root".to_owned(),
            "--group=root".to_owned(),
            format!("--pid-file={}", dir.join(format!("dnsmasq-{ns}.pid")).display()),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let child = spawn(ns, "dnsmasq", &args, &log)?;
        self.children.push((format!("dnsmasq in {ns}"), child, log));
        wait_listening(ns, "-lun", &format!("{listen}:53"))
    }

    /// Serves the HTTPS site's expired certificate (or its valid one again); nginx re-reads it on SIGHUP.
    pub fn set_tls_site_expired(&self, expired: bool) -> Result<(), LabError> {
        self.tls.serve(expired)?;
        self.reload(&format!("nginx in {NS_INTL}"))
    }

    /// Rewrites an ISP resolver's answers: `injected` names answer `with`, the rest their real addresses.
    /// dnsmasq re-reads the file on SIGHUP.
    pub fn set_isp_answers(&self, isp: u8, injected: &[&str], with: std::net::Ipv4Addr) -> Result<(), LabError> {
        let file = &self.isp_hosts[usize::from(isp) - 1];
        let overrides: Vec<(&str, std::net::Ipv4Addr)> = injected.iter().map(|h| (*h, with)).collect();
        write(file, &hosts(&overrides))?;
        self.reload(&format!("dnsmasq in {}", ns_isp(isp)))
    }

    /// Sends SIGHUP to the server named `name` (nginx and dnsmasq re-read their files on it).
    fn reload(&self, name: &str) -> Result<(), LabError> {
        let pid = self
            .children
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, c, _)| c.id().to_string())
            .ok_or_else(|| LabError::Setup(format!("{name} is not running")))?;
        super::net::run("kill", &["-HUP", &pid]).map(drop)
    }

    /// Any server that has exited: its name, how it ended and the last lines of its output (a CI run's report
    /// is often all there is to read).
    pub fn exited(&mut self) -> Option<String> {
        self.children.iter_mut().find_map(|(name, child, log)| {
            let status = match child.try_wait() {
                Ok(None) => return None,
                Ok(Some(status)) => status.to_string(),
                Err(e) => format!("unknown state ({e})"),
            };
            let text = std::fs::read_to_string(&*log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(8)..].join("\n  ");
            Some(format!("{name} ({status}; the end of {}:\n  {tail}\n)", log.display()))
        })
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        for (_, child, _) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A hosts file with every site, `overrides` first (dnsmasq answers with the first match).
fn hosts(overrides: &[(&str, std::net::Ipv4Addr)]) -> String {
    let mut out = String::new();
    for (host, addr) in overrides {
        out.push_str(&format!("{addr} {host}\n"));
    }
    for (host, addr) in SITES.into_iter().chain([APP_WEB]) {
        if !overrides.iter().any(|(h, _)| *h == host) {
            out.push_str(&format!("{addr} {host}\n"));
        }
    }
    out
}

fn write(path: &Path, content: &str) -> Result<(), LabError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| LabError::io(parent, e))?;
    }
    std::fs::write(path, content).map_err(|e| LabError::io(path, e))
}

/// Starts `program` inside `ns` with its output in `log`.
pub fn spawn(ns: &str, program: &str, args: &[&str], log: &Path) -> Result<Child, LabError> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| LabError::io(log, e))?;
    let err = file.try_clone().map_err(|e| LabError::io(log, e))?;
    Command::new("ip")
        .args(["netns", "exec", ns, program])
        .args(args)
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .spawn()
        .map_err(|e| LabError::Command {
            command: format!("ip netns exec {ns} {program}"),
            detail: e.to_string(),
        })
}

/// Waits until a socket matching `local` listens in `ns` (`ss FLAGS`).
fn wait_listening(ns: &str, flags: &str, local: &str) -> Result<(), LabError> {
    let ok = wait_until(Duration::from_secs(10), || {
        in_ns(ns, "ss", &["-H", flags]).is_ok_and(|out| out.lines().any(|l| l.contains(local)))
    });
    if ok {
        Ok(())
    } else {
        Err(LabError::Setup(format!(
            "nothing listens on {local} in {ns} after 10 s"
        )))
    }
}
