//! Helpers of the packaging tests: fixture workspaces, hand-built wheels, the shared uv.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

use sha2::{Digest, Sha256};
use xtask::agents::Agent;
use xtask::package::{PackageOptions, PackageTuning};

use crate::support::{Ctx, copy_workspace, repo_root, xtask_command};

/// Where the tests keep the pinned uv (see `tools.rs`), shared by every test.
pub fn tools_dir() -> PathBuf {
    crate::tools::dir()
}

pub use crate::tools::uv;

/// A copy of `tests/fixtures/package/workspace` in a temporary directory, with the files git
/// cannot hold (bytecode, hidden files) added.
pub struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    pub fn fixture() -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        copy_workspace(&repo_root().join("tests/fixtures/package/workspace"), dir.path());
        let workspace = Workspace { dir };
        let agent = workspace.agent_dir("fixture_bot");
        std::fs::create_dir_all(agent.join("__pycache__")).unwrap();
        std::fs::write(agent.join("__pycache__/main.cpython-312.pyc"), b"bytecode").unwrap();
        std::fs::write(agent.join("helpers/old.pyc"), b"bytecode").unwrap();
        std::fs::write(agent.join(".env"), "SECRET=1\n").unwrap();
        set_mode(&agent.join("run.sh"), 0o755);
        set_mode(&agent.join("main.py"), 0o600);
        workspace
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn agent_dir(&self, name: &str) -> PathBuf {
        self.root().join("agents").join(name)
    }

    pub fn set_requirements(&self, agent: &str, text: &str) {
        std::fs::write(self.agent_dir(agent).join("requirements.txt"), text).unwrap();
    }

    pub fn ctx(&self) -> Ctx {
        crate::support::ctx(self.root(), Default::default())
    }

    pub fn agent(&self, ctx: &Ctx, name: &str) -> Agent {
        let agents = xtask::agents::discover(self.root(), &ctx.settings).unwrap();
        agents.into_iter().find(|agent| agent.name == name).unwrap()
    }

    pub fn options(&self) -> PackageOptions {
        PackageOptions { out_dir: self.root().join("out"), prompt_override: None }
    }

    /// Runs the real binary against this workspace, wheels served offline.
    pub fn cli(&self, wheels: &Wheels, args: &[&str]) -> Output {
        uv();
        self.command(wheels, args).output().unwrap()
    }

    /// The command `cli` runs, to be changed or spawned.
    pub fn command(&self, wheels: &Wheels, args: &[&str]) -> std::process::Command {
        let mut command = xtask_command(self.root());
        command
            .args(args)
            .arg("--find-links")
            .arg(wheels.dir.path())
            .arg("--no-index")
            .env("AGENTCORE_TOOLS_DIR", tools_dir());
        command
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A directory of wheels written by hand: a pure-Python one with a console script, one with only
/// an x86-64 wheel, one whose only ARM64 wheel needs glibc 2.28, and a pure one bundling an x86-64
/// library.
pub struct Wheels {
    pub dir: tempfile::TempDir,
}

impl Wheels {
    pub fn build() -> Wheels {
        let dir = tempfile::tempdir().unwrap();
        let script: &[(&str, &[u8])] = &[("tinydep-1.0.0.data/scripts/tiny", b"#!python\nprint('tiny')\n")];
        write_wheel(dir.path(), "tinydep", "py3-none-any", script);
        write_wheel(dir.path(), "x86only", "cp312-cp312-manylinux2014_x86_64", &[]);
        write_wheel(dir.path(), "newglibc", "cp312-cp312-manylinux_2_28_aarch64", &[]);
        // Built for CPython 3.14 only: it resolves for PYTHON_3_14 agents alone.
        write_wheel(dir.path(), "only314", "cp314-cp314-manylinux2014_aarch64", &[]);
        // A wheel tagged `any` that bundles an x86-64 library (ELF e_machine 0x3E).
        let mut elf = b"\x7fELF\x02\x01\x01".to_vec();
        elf.resize(18, 0);
        elf.extend_from_slice(&[0x3E, 0x00, 0x01, 0x00, 0x00, 0x00]);
        write_wheel(dir.path(), "hostlib", "py3-none-any", &[("hostlib/_native.so", elf.as_slice())]);
        Wheels { dir }
    }

    /// Tuning that installs from these wheels only, with the shared uv.
    pub fn tuning(&self) -> PackageTuning {
        PackageTuning {
            uv: Some(uv()),
            find_links: Some(self.dir.path().to_path_buf()),
            no_index: true,
            ..PackageTuning::default()
        }
    }
}

/// A minimal valid wheel: the package, METADATA, WHEEL and a RECORD with real hashes.
fn write_wheel(dir: &Path, name: &str, tag: &str, extra: &[(&str, &[u8])]) {
    let dist_info = format!("{name}-1.0.0.dist-info");
    let mut files: Vec<(String, Vec<u8>)> = vec![
        (format!("{name}/__init__.py"), b"VALUE = 1\n".to_vec()),
        (
            format!("{dist_info}/METADATA"),
            format!("Metadata-Version: 2.1\nName: {name}\nVersion: 1.0.0\n").into_bytes(),
        ),
        (
            format!("{dist_info}/WHEEL"),
            format!("Wheel-Version: 1.0\nGenerator: xtask-tests\nRoot-Is-Purelib: true\nTag: {tag}\n").into_bytes(),
        ),
    ];
    files.extend(extra.iter().map(|(path, bytes)| (path.to_string(), bytes.to_vec())));
    let mut record = String::new();
    for (path, bytes) in &files {
        record += &format!("{path},sha256={},{}\n", base64url(&Sha256::digest(bytes)), bytes.len());
    }
    record += &format!("{dist_info}/RECORD,,\n");
    files.push((format!("{dist_info}/RECORD"), record.into_bytes()));

    let file = std::fs::File::create(dir.join(format!("{name}-1.0.0-{tag}.whl"))).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default().last_modified_time(zip::DateTime::default());
    for (path, bytes) in &files {
        zip.start_file(path.as_str(), options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

/// Unpadded URL-safe base64, as wheel RECORDs use.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let value = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | ((*b as u32) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((value >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// `mode size name` per entry, as a reviewer reads a zip.
pub fn listing(zip: &Path) -> String {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    let mut lines = Vec::new();
    for index in 0..archive.len() {
        let file = archive.by_index(index).unwrap();
        lines.push(format!("{:o} {:>5} {}", file.unix_mode().unwrap_or(0), file.size(), file.name().unwrap()));
    }
    lines.join("\n")
}

pub fn names(zip: &Path) -> Vec<String> {
    let archive = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    archive.file_names().map(|name| name.unwrap().into_owned()).collect()
}

pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
