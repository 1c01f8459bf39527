//! A lab file with a unique lab name (`pwt-PID-TAGN`, under scripts/test's cleanup prefix),
//! written to the temp dir; `down` and removed on drop.

use std::sync::atomic::{AtomicU32, Ordering};

use super::{patchwire, require_root};

pub struct LabFile {
    pub name: String,
    pub path: std::path::PathBuf,
}

impl LabFile {
    /// `body` with `LAB` standing for the lab's name; `tag` tells the test file's labs apart.
    pub fn new(tag: &str, body: &str) -> LabFile {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        require_root();
        let name = format!(
            "pwt-{}-{tag}{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let path = std::env::temp_dir().join(format!("{name}.yaml"));
        let lab = LabFile { name, path };
        lab.write(body);
        lab
    }

    /// Writes `body` (with `LAB` replaced) over the file.
    pub fn write(&self, body: &str) {
        std::fs::write(&self.path, body.replace("LAB", &self.name)).unwrap();
    }

    pub fn path(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

impl Drop for LabFile {
    fn drop(&mut self) {
        let _ = patchwire(&["down", self.path()]);
        let _ = std::fs::remove_file(&self.path);
    }
}
