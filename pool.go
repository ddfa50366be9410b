package natsrpc

import "sync"

// pool is a service's bounded worker pool: at most concurrency requests
// run at once and at most maxPending more wait for a worker.
//
// Why not a channel that every worker receives from: a channel hands each
// request straight to a parked worker, so with fast handlers every request
// wakes its own goroutine, each response is published by a goroutine that
// parks right after, and nats.go's flusher, scheduled next, writes one
// response per system call. The pool instead wakes a parked worker only
// when no awake worker is on its way to the queue (the Go scheduler's
// "spinning" rule): a worker that finishes a request takes the next one
// without parking, responses are written in batches, and still, as soon as
// a worker starts a request while others wait, it wakes a successor, so
// slow handlers never hold up requests while a worker is free.
type pool struct {
	mu sync.Mutex
	// queue is a ring of admitted requests no worker has taken yet.
	queue []*request
	head  int
	n     int
	// idle holds parked workers, most recently parked last (reused first,
	// its stack and caches are warm).
	idle []*worker
	// searching counts awake workers that are not running a request: woken
	// or just finished, about to look at the queue.
	searching int
	// busy counts workers running a request.
	busy    int
	closing bool
	// space wakes pushWait callers when a worker finishes; waiters counts
	// them.
	space       *sync.Cond
	waiters     int
	concurrency int
	maxPending  int
	serve       func(r *request, worker int)
	wg          sync.WaitGroup
}

type worker struct {
	id   int
	wake chan struct{}
}

func newPool(concurrency, maxPending int, serve func(r *request, worker int)) *pool {
	p := &pool{
		queue:       make([]*request, concurrency+maxPending),
		idle:        make([]*worker, 0, concurrency),
		concurrency: concurrency,
		maxPending:  maxPending,
		serve:       serve,
	}
	p.space = sync.NewCond(&p.mu)
	p.wg.Add(concurrency)
	for i := range concurrency {
		w := &worker{id: i, wake: make(chan struct{}, 1)}
		p.idle = append(p.idle, w)
		go p.work(w)
	}
	return p
}

// push admits r, or reports false when the workers are busy and the queue
// is full (or the pool is closing). It never blocks.
func (p *pool) push(r *request) bool {
	p.mu.Lock()
	if p.closing || p.n+1 > p.maxPending+p.concurrency-p.busy {
		p.mu.Unlock()
		return false
	}
	p.enqueueUnlock(r)
	return true
}

// pushWait admits r, waiting while the workers are busy and the queue is
// full; it reports false only when the pool is closing. Events use it:
// nobody waits for their answer, so they wait for a worker instead of
// being refused.
func (p *pool) pushWait(r *request) bool {
	p.mu.Lock()
	for !p.closing && p.n+1 > p.maxPending+p.concurrency-p.busy {
		p.waiters++
		p.space.Wait()
		p.waiters--
	}
	if p.closing {
		p.mu.Unlock()
		return false
	}
	p.enqueueUnlock(r)
	return true
}

// enqueueUnlock queues r, then unlocks p.mu, which the caller holds, and
// wakes a worker if one is needed: push and pushWait differ only in how
// they wait for room. The wake-up is sent after unlocking, as wakeLocked
// asks.
func (p *pool) enqueueUnlock(r *request) {
	p.queue[(p.head+p.n)%len(p.queue)] = r
	p.n++
	w := p.wakeLocked()
	p.mu.Unlock()
	if w != nil {
		w.wake <- struct{}{}
	}
}

// wakeLocked picks a parked worker to wake when requests wait and no awake
// worker is coming for them. The caller sends the wake-up after unlocking.
func (p *pool) wakeLocked() *worker {
	if p.n == 0 || p.searching > 0 || len(p.idle) == 0 {
		return nil
	}
	w := p.idle[len(p.idle)-1]
	p.idle = p.idle[:len(p.idle)-1]
	p.searching++
	return w
}

// work is one worker. Workers start parked; a woken worker counts as
// searching (its waker counted it).
func (p *pool) work(w *worker) {
	defer p.wg.Done()
	<-w.wake
	p.mu.Lock()
	for {
		if p.n > 0 {
			r := p.queue[p.head]
			p.queue[p.head] = nil
			p.head = (p.head + 1) % len(p.queue)
			p.n--
			p.searching--
			p.busy++
			next := p.wakeLocked() // more waiting: let a successor take them
			p.mu.Unlock()
			if next != nil {
				next.wake <- struct{}{}
			}
			p.serve(r, w.id)
			p.mu.Lock()
			p.busy--
			p.searching++
			if p.waiters > 0 {
				p.space.Signal()
			}
			continue
		}
		p.searching--
		if p.closing {
			p.mu.Unlock()
			return
		}
		p.idle = append(p.idle, w)
		p.mu.Unlock()
		<-w.wake
		p.mu.Lock()
	}
}

// close lets the workers finish what is queued, then return; wait waits
// for them.
func (p *pool) close() {
	p.mu.Lock()
	p.closing = true
	p.space.Broadcast()
	idle := p.idle
	p.idle = nil
	p.searching += len(idle)
	p.mu.Unlock()
	for _, w := range idle {
		w.wake <- struct{}{}
	}
}

func (p *pool) wait() {
	p.wg.Wait()
}

// load returns the requests running and waiting now.
func (p *pool) load() (busy, queued int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.busy, p.n
}
