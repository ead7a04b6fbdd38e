package ipvs

var _ Batcher = (*Handle)(nil)

// Apply carries out ws in order, packing many requests into each sendmsg
// (each with its own sequence number and ack) where the single calls send
// one request and wait for its ack: the cold start of a large table is
// one round trip per write otherwise (issue 15). A write that cannot be
// encoded (bad input) fails alone, before anything is sent; each error
// reads as the single call's.
func (h *Handle) Apply(ws []Write) []error {
	errs := make([]error, len(ws))
	if len(ws) == 0 {
		return errs
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	buf := h.batchBuf[:0]
	starts := make([]int, 0, len(ws))
	sent := make([]int, 0, len(ws)) // the index in ws of each request
	for i, w := range ws {
		b, err := appendWrite(buf, h.genl.family, w)
		if err != nil {
			errs[i] = w.Wrap(err)
			continue
		}
		starts, sent, buf = append(starts, len(buf)), append(sent, i), b
	}
	h.batchBuf = buf[:0]
	if len(sent) == 0 {
		return errs
	}
	h.writes.Add(uint64(len(sent)))
	for j, err := range h.genl.writeBatch(buf, starts) {
		if err != nil {
			errs[sent[j]] = ws[sent[j]].Wrap(err)
		}
	}
	return errs
}

// Sendmsgs is the number of sendmsg calls that carried writes: one per
// single call, one per batch. Writes over Sendmsgs is what batching gains.
func (h *Handle) Sendmsgs() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.singles + h.genl.sendmsgs
}
