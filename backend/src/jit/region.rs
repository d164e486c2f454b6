//! Multi-block regions: a hot block and the blocks of the same guest page that lead back to
//! it by direct jumps, merged into one IR [`Block`] that the JIT compiles as one function.
//! Inside a region a direct jump to a later member is a plain branch and a jump back to the
//! head is the JIT's self loop (through the head's `exit_request` check), so a small loop
//! runs without block transitions and keeps guest registers in host registers.
//!
//! Every cycle inside a region passes through the head: members are laid out in reverse
//! post-order and only jumps to later members or to the head are turned into branches; any
//! other `GotoBlock` stays an exit. The merged block means exactly what running its members
//! one after another means, so the interpreter (which keeps running single blocks) remains
//! the reference.

use crate::ir::{Block, Label, Op, Temp};

/// Bounds on one region.
#[derive(Clone, Copy, Debug)]
pub struct RegionLimits {
    /// Most member blocks, the head included.
    pub max_blocks: usize,
    /// Most IR ops in the merged block.
    pub max_ops: usize,
    /// Members must start in the head's page of this many bytes (a power of two).
    pub page_size: u64,
}

impl Default for RegionLimits {
    fn default() -> Self {
        RegionLimits {
            max_blocks: 4,
            max_ops: 600,
            page_size: 4096,
        }
    }
}

/// Constant targets of a block's `GotoBlock` exits, in op order, without duplicates.
fn successors(b: &Block) -> Vec<u64> {
    let mut v = Vec::new();
    for op in &b.ops {
        if let Op::GotoBlock { pc } = *op
            && !v.contains(&pc)
        {
            v.push(pc);
        }
    }
    v
}

/// Build the region headed by `head`. `fetch(pc)` returns the IR of the block at `pc`
/// (translated like any block; None when it cannot be translated). Returns `head`
/// unchanged when no other block closes a loop with it.
pub fn form(
    head: Block,
    limits: RegionLimits,
    mut fetch: impl FnMut(u64) -> Option<Block>,
) -> Block {
    let page = |pc: u64| pc & !(limits.page_size - 1);
    let head_page = page(head.pc);
    // Discover blocks reachable from the head by direct jumps within the page.
    let mut blocks: Vec<Block> = vec![head];
    let mut ops = blocks[0].ops.len();
    let mut i = 0;
    while i < blocks.len() {
        for s in successors(&blocks[i]) {
            if blocks.len() >= limits.max_blocks * 2 {
                break;
            }
            if page(s) != head_page || blocks.iter().any(|b| b.pc == s) {
                continue;
            }
            if let Some(b) = fetch(s)
                && b.pc == s
                && ops + b.ops.len() <= limits.max_ops
            {
                ops += b.ops.len();
                blocks.push(b);
            }
        }
        i += 1;
    }
    let n = blocks.len();
    let succ: Vec<Vec<usize>> = blocks
        .iter()
        .map(|b| {
            successors(b)
                .into_iter()
                .filter_map(|pc| blocks.iter().position(|x| x.pc == pc))
                .collect()
        })
        .collect();
    // Members: blocks from which the head is reachable (they lie on a loop through it).
    let mut back = vec![false; n];
    back[0] = true;
    let mut changed = true;
    while changed {
        changed = false;
        for j in 1..n {
            if !back[j] && succ[j].iter().any(|&k| back[k]) {
                back[j] = true;
                changed = true;
            }
        }
    }
    // Reverse post-order from the head over members, at most max_blocks of them.
    let mut post = Vec::new();
    let mut seen = vec![false; n];
    fn dfs(v: usize, succ: &[Vec<usize>], back: &[bool], seen: &mut [bool], post: &mut Vec<usize>) {
        seen[v] = true;
        for &w in &succ[v] {
            if back[w] && !seen[w] {
                dfs(w, succ, back, seen, post);
            }
        }
        post.push(v);
    }
    dfs(0, &succ, &back, &mut seen, &mut post);
    post.reverse();
    post.truncate(limits.max_blocks);
    if post.len() < 2 {
        return blocks.swap_remove(0);
    }
    let mut slots: Vec<Option<Block>> = blocks.into_iter().map(Some).collect();
    let members: Vec<Block> = post
        .iter()
        .map(|&k| slots[k].take().expect("each member once"))
        .collect();
    merge(&members)
}

/// Merge `members` (head first) into one block: a `GotoBlock` from member i to member j > i
/// becomes a branch to j's code, everything else is kept (a `GotoBlock` to the head is the
/// JIT's self loop).
pub fn merge(members: &[Block]) -> Block {
    let head = &members[0];
    let mut out = Block {
        pc: head.pc,
        ..Block::default()
    };
    // One entry label per member after the head (index i - 1 for member i).
    let entry_label = |i: usize| Label(i as u32 - 1);
    out.num_labels = members.len() as u32 - 1;
    let mut end = head.pc;
    for (i, m) in members.iter().enumerate() {
        let toff = out.temps.len() as u32;
        let loff = out.num_labels;
        out.temps.extend_from_slice(&m.temps);
        out.num_labels += m.num_labels;
        out.num_insns += m.num_insns;
        end = end.max(m.pc + m.guest_size as u64);
        if i > 0 {
            out.ops.push(Op::Label {
                label: entry_label(i),
            });
        }
        for op in &m.ops {
            let mut op = op.clone();
            if let Op::GotoBlock { pc } = op
                && let Some(j) = members.iter().position(|x| x.pc == pc)
                && j > i
            {
                out.ops.push(Op::Br {
                    label: entry_label(j),
                });
                continue;
            }
            rename(&mut op, |t| Temp(t.0 + toff), |l| Label(l.0 + loff));
            out.ops.push(op);
        }
    }
    out.guest_size = u32::try_from(end - head.pc).unwrap_or(u32::MAX);
    out
}

/// Apply `t` to every temporary and `l` to every label of `op`.
fn rename(op: &mut Op, t: impl Fn(Temp) -> Temp, l: impl Fn(Label) -> Label) {
    match op {
        Op::InsnStart { .. } | Op::Fence { .. } | Op::GotoBlock { .. } => {}
        Op::Const { dst, .. } | Op::GetGlobal { dst, .. } => *dst = t(*dst),
        Op::Mov { dst, src } => {
            *dst = t(*dst);
            *src = t(*src);
        }
        Op::SetGlobal { src, .. } => *src = t(*src),
        Op::Bin { dst, a, b, .. } | Op::SetCond { dst, a, b, .. } | Op::FCmp { dst, a, b, .. } => {
            *dst = t(*dst);
            *a = t(*a);
            *b = t(*b);
        }
        Op::Un { dst, a, .. } => {
            *dst = t(*dst);
            *a = t(*a);
        }
        Op::Ext { dst, src, .. } | Op::Extract { dst, src, .. } | Op::Conv { dst, src, .. } => {
            *dst = t(*dst);
            *src = t(*src);
        }
        Op::Deposit { dst, base, val, .. } => {
            *dst = t(*dst);
            *base = t(*base);
            *val = t(*val);
        }
        Op::Select {
            dst, cond, a, b, ..
        } => {
            *dst = t(*dst);
            *cond = t(*cond);
            *a = t(*a);
            *b = t(*b);
        }
        Op::FMa { dst, a, b, c, .. } => {
            *dst = t(*dst);
            *a = t(*a);
            *b = t(*b);
            *c = t(*c);
        }
        Op::Load { dst, addr, .. } => {
            *dst = t(*dst);
            *addr = t(*addr);
        }
        Op::Store { val, addr, .. } => {
            *val = t(*val);
            *addr = t(*addr);
        }
        Op::AtomicRmw { dst, addr, val, .. } => {
            *dst = t(*dst);
            *addr = t(*addr);
            *val = t(*val);
        }
        Op::Cmpxchg {
            dst,
            addr,
            expected,
            new,
            ..
        } => {
            *dst = t(*dst);
            *addr = t(*addr);
            *expected = t(*expected);
            *new = t(*new);
        }
        Op::Call { args, dst, .. } => {
            for a in args.iter_mut() {
                *a = t(*a);
            }
            if let Some(d) = dst {
                *d = t(*d);
            }
        }
        Op::Label { label } | Op::Br { label } => *label = l(*label),
        Op::BrCond { cond, label } => {
            *cond = t(*cond);
            *label = l(*label);
        }
        Op::ExitIndirect { pc } | Op::Exit { pc, .. } => *pc = t(*pc),
    }
}
