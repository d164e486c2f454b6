//! Compiled code shared by the engines of one machine. System-mode harts run the same
//! kernel, each with its own engine and code buffer: a block one hart compiled is installed
//! by the others ([`super::Jit::install_object`]) instead of going through Cranelift again.
//! An object is reused only for IR equal to the IR it was compiled from, by a compiler
//! making the same code (same lowering settings and optimisation level), so it is exactly
//! what compiling anew would give; generated code holds no address of an engine (see
//! `CpuHeader::jump_table`), which is what makes the bytes portable between code buffers.

use super::{CompiledObject, Compiler, JitError};
use crate::ir::Block;
use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Objects kept before the store starts afresh (a bound on memory; a boot compiles
/// about 20,000 blocks per hart).
const MAX_OBJECTS: usize = 1 << 17;

/// One compiled block with what it was compiled from.
struct Shared {
    block: Block,
    compiler: super::lower::LowerEnv,
    optimized: bool,
    obj: Arc<CompiledObject>,
}

impl Shared {
    /// Whether `comp` compiling `block` (optimised or not) would make this object.
    fn is_for(&self, comp: &Compiler, block: &Block, optimized: bool) -> bool {
        self.optimized == optimized && self.compiler.same_code(&comp.lenv) && self.block == *block
    }
}

/// The store of compiled objects shared between compilers (create one per machine with
/// [`CodeShare::new`] and give it to each engine).
#[derive(Default)]
pub struct CodeShare {
    /// By guest PC of the block.
    map: Mutex<FxHashMap<u64, Vec<Shared>>>,
    objects: AtomicU64,
    reused: AtomicU64,
}

impl std::fmt::Debug for CodeShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeShare")
            .field("objects", &self.objects.load(Ordering::Relaxed))
            .field("reused", &self.reused.load(Ordering::Relaxed))
            .finish()
    }
}

impl CodeShare {
    pub fn new() -> Arc<CodeShare> {
        Arc::new(CodeShare::default())
    }

    /// Objects taken from the store instead of compiled, by all its users.
    pub fn reused(&self) -> u64 {
        self.reused.load(Ordering::Relaxed)
    }

    fn find(&self, comp: &Compiler, block: &Block, optimized: bool) -> Option<Arc<CompiledObject>> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let hit = map
            .get(&block.pc)?
            .iter()
            .find(|s| s.is_for(comp, block, optimized))?;
        self.reused.fetch_add(1, Ordering::Relaxed);
        Some(hit.obj.clone())
    }

    fn insert(&self, comp: &Compiler, block: &Block, optimized: bool, obj: Arc<CompiledObject>) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if self.objects.load(Ordering::Relaxed) as usize >= MAX_OBJECTS {
            map.clear();
            self.objects.store(0, Ordering::Relaxed);
        }
        let list = map.entry(block.pc).or_default();
        // Another compiler may have stored the same block meanwhile: keep one.
        if list.iter().any(|s| s.is_for(comp, block, optimized)) {
            return;
        }
        list.push(Shared {
            block: block.clone(),
            compiler: comp.lenv.clone(),
            optimized,
            obj,
        });
        self.objects.fetch_add(1, Ordering::Relaxed);
    }
}

impl Compiler {
    /// [`Compiler::compile`] through `share`: an object another compiler made from equal
    /// IR with the same settings is taken from it (true: reused), else the block is
    /// compiled and stored for the others.
    pub fn compile_shared(
        &mut self,
        block: &Block,
        optimize: bool,
        share: &CodeShare,
    ) -> Result<(Arc<CompiledObject>, bool), JitError> {
        if let Some(obj) = share.find(self, block, optimize) {
            return Ok((obj, true));
        }
        let obj = Arc::new(self.compile(block, optimize)?);
        share.insert(self, block, optimize, obj.clone());
        Ok((obj, false))
    }

    /// The object in `share` for `block`, if another compiler made it.
    pub fn find_shared(&self, block: &Block, share: &CodeShare) -> Option<Arc<CompiledObject>> {
        share.find(self, block, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Ty;
    use crate::jit::Jit;

    fn jit() -> Jit {
        crate::jit::small_test_jit()
    }

    fn block(pc: u64, value: u64) -> Block {
        let mut b = crate::Builder::new(pc);
        b.insn_start(pc);
        let t = b.const_(Ty::I64, value);
        b.set_global(Ty::I64, crate::CPU_HEADER_SIZE, t);
        b.goto_block(pc + 4);
        b.finish()
    }

    #[test]
    fn equal_ir_is_compiled_once_and_runs_the_same_in_another_jit() {
        let share = CodeShare::new();
        let (mut a, mut b) = (jit(), jit());
        let (mut ca, mut cb) = (a.new_compiler(), b.new_compiler());
        let (oa, reused_a) = ca.compile_shared(&block(0x1000, 7), false, &share).unwrap();
        let (ob, reused_b) = cb.compile_shared(&block(0x1000, 7), false, &share).unwrap();
        assert!(!reused_a && reused_b);
        assert!(Arc::ptr_eq(&oa, &ob));
        assert_eq!(share.reused(), 1);
        // Installed in the second Jit, the object runs there like its own code.
        let blk = b.install_object(&ob).unwrap();
        let mut env = vec![0u64; 16];
        // SAFETY: env is a zeroed CPU state large enough for the header and one global;
        // the entry is code of `b` installed above.
        let status = unsafe { b.enter(env.as_mut_ptr() as *mut u8, blk.entry) };
        assert_eq!(status, crate::ExitStatus::Next);
        assert_eq!(env[crate::CPU_HEADER_SIZE as usize / 8], 7);
        assert_eq!(env[0], 0x1004);
        let _ = a.install_object(&oa).unwrap();
    }

    #[test]
    fn different_ir_or_settings_are_not_shared() {
        let share = CodeShare::new();
        let mut a = jit();
        let mut ca = a.new_compiler();
        ca.compile_shared(&block(0x1000, 7), false, &share).unwrap();
        // Same PC, other code (a page rewritten, or mapped to other physical memory).
        let (_, reused) = ca.compile_shared(&block(0x1000, 8), false, &share).unwrap();
        assert!(!reused);
        // Same IR, other lowering settings.
        a.set_self_loops(true);
        let mut cl = a.new_compiler();
        let (_, reused) = cl.compile_shared(&block(0x1000, 7), false, &share).unwrap();
        assert!(!reused);
        // Same IR, optimised.
        let (_, reused) = ca.compile_shared(&block(0x1000, 7), true, &share).unwrap();
        assert!(!reused);
        let (_, reused) = ca.compile_shared(&block(0x1000, 7), false, &share).unwrap();
        assert!(reused);
    }
}
