/*
 * hhlib_sim: a stand-in for PicoQuant's HHLib 3.0 (libhh400.so) that behaves like a HydraHarp 400.
 *
 * It exports every function of HHLib 3.0's hhlib.h with the same signature, return convention
 * (0 = ok, negative = the error code of errorcodes.h, explained by HH_GetErrorString), limits
 * (hhdefin.h) and measurement life cycle, so PicoQuant's own example programs (histogram, T2, T3
 * and continuous mode) run against it unmodified. Semantics follow the HHLib manual
 * (manual_HHLibLinux v3.0.0.2, section 8, "page N" below) where it says something, and the 3.0.0.4
 * example programs where the manual is silent or they disagree (noted where it matters).
 *
 * The library has no photons of its own. What arrives at its inputs (detector pulses on input
 * channels, edges at the sync input, TTL edges on the four marker lines) is pushed as *signals*
 * through the extra HHSIM_* functions, by a "source" (sim_backends/emulators/hhlib_sim: the
 * simulated optical bench). The library then does the instrument's work on them: channel and sync
 * offsets, input enables, the sync divider, marker enables, edges and hold-off, T2/T3 record
 * encoding with overflow records, histogramming with binning, offset, length and stop-on-overflow,
 * continuous-mode blocks, the FIFO, flags and warnings.
 *
 * Time. A source registered with HHSIM_SetSource is called back (reason START, POLL, RATES, STOP)
 * before the library answers anything time-dependent, and pushes the signals up to its own "now"
 * with HHSIM_PushSignals(..., covered_ps). The measurement time of the device is then what the
 * source has covered, so a source on a virtual clock gives virtual-time measurements. Without a
 * source the device time is the wall clock since HH_StartMeas (signals may then be pushed by hand).
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------ hhdefin.h (HHLib 3.0) */
#define LIB_VERSION "3.0"
#define MAXDEVNUM 8
#define HHMAXINPCHAN 8
#define BINSTEPSMAX 26
#define MAXHISTLEN 65536
#define MAXLENCODE 6
#define MAXHISTLEN_CONT 8192
#define MAXLENCODE_CONT 3
#define MAXCONTMODEBUFLEN 262272
#define TTREADMAX 131072
#define TTREADMIN 128

#define MODE_HIST 0
#define MODE_T2 2
#define MODE_T3 3
#define MODE_CONT 8

#define MEASCTRL_SINGLESHOT_CTC 0
#define MEASCTRL_C1_GATED 1
#define MEASCTRL_C1_START_CTC_STOP 2
#define MEASCTRL_C1_START_C2_STOP 3
#define MEASCTRL_CONT_C1_GATED 4
#define MEASCTRL_CONT_C1_START_CTC_STOP 5
#define MEASCTRL_CONT_CTC_RESTART 6

#define FEATURE_DLL 0x0001
#define FEATURE_TTTR 0x0002
#define FEATURE_MARKERS 0x0004
#define FEATURE_LOWRES 0x0008

#define FLAG_OVERFLOW 0x0001
#define FLAG_FIFOFULL 0x0002
#define FLAG_SYNC_LOST 0x0004
#define FLAG_REF_LOST 0x0008
#define FLAG_SYSERROR 0x0010
#define FLAG_ACTIVE 0x0020

#define SYNCDIVMIN 1
#define SYNCDIVMAX 16
#define ZCMIN 0
#define ZCMAX 40
#define DISCRMIN 0
#define DISCRMAX 1000
#define CHANOFFSMIN -99999
#define CHANOFFSMAX 99999
#define OFFSETMIN 0
#define OFFSETMAX 500000
#define ACQTMIN 1
#define ACQTMAX 360000000
#define STOPCNTMIN 1u
#define STOPCNTMAX 4294967295u
#define HOLDOFFMIN 0
#define HOLDOFFMAX 524296

#define WARNING_SYNC_RATE_ZERO 0x0001
#define WARNING_SYNC_RATE_TOO_LOW 0x0002
#define WARNING_SYNC_RATE_TOO_HIGH 0x0004
#define WARNING_INPT_RATE_ZERO 0x0010
#define WARNING_INPT_RATE_TOO_HIGH 0x0040
#define WARNING_INPT_RATE_RATIO 0x0100
#define WARNING_DIVIDER_GREATER_ONE 0x0200
#define WARNING_TIME_SPAN_TOO_SMALL 0x0400
#define WARNING_OFFSET_UNNECESSARY 0x0800

/* ------------------------------------------------------------------ errorcodes.h (subset used) */
#define HH_ERROR_NONE 0
#define HH_ERROR_DEVICE_OPEN_FAIL -1
#define HH_ERROR_DEVICE_BUSY -2
#define HH_ERROR_DEVICE_NOT_OPEN -10
#define HH_ERROR_INSTANCE_RUNNING -16
#define HH_ERROR_INVALID_ARGUMENT -17
#define HH_ERROR_INVALID_MODE -18
#define HH_ERROR_INVALID_OPTION -19
#define HH_ERROR_INVALID_MEMORY -20
#define HH_ERROR_INVALID_RDATA -21
#define HH_ERROR_NOT_INITIALIZED -22
#define HH_ERROR_NOT_CALIBRATED -23

/* ------------------------------------------------------------------ the simulated unit */
#define BASE_RESOLUTION_PS 1.0
#define T2_WRAP 33554432LL  /* 2^25 ps: HydraHarp v2 T2 time tag range */
#define T3_WRAP 1024LL      /* 2^10 syncs: T3 nsync range */
#define T3_DTIME_BINS 32768 /* 2^15: T3 dtime range */
#define DEFAULT_CHANNELS 2
/* Our choice, not the real FIFO depth: records kept until read before FLAG_FIFOFULL. */
#define FIFO_MAX_RECORDS (16L * 1024 * 1024)
#define CONT_QUEUE_BLOCKS 256 /* our choice: blocks kept until fetched before FLAG_FIFOFULL */
#define CONT_HEADER_BYTES 64
/* Signals reach their final order once the source has covered this much beyond them
 * (offsets move a signal by at most 99999 ps). */
#define ORDER_GUARD_PS 100000LL
/* Rate-meter limits of the warnings table (page 29-30; USB 2.0 model figures). */
#define MAX_SYNC_RATE_DIVIDED 12500000.0
#define MAX_T2_SYNC_RATE 9000000.0
#define MAX_TTTR_INPUT_RATE 9000000.0
#define PILEUP_RATIO 0.05
/* The sync counts as lost after this long without an edge: the lowest sync rate histogram and
 * T3 mode work with is about 0.25 Hz (page 29). */
#define SYNC_LOST_AFTER_PS 4000000000000LL

/* signal sources for HHSIM_PushSignals */
#define SIG_SYNC 8
#define SIG_MARKER_RISING 16  /* + line 0..3 */
#define SIG_MARKER_FALLING 20 /* + line 0..3 */

/* reasons the source is called back */
#define SOURCE_START 0
#define SOURCE_POLL 1
#define SOURCE_RATES 2
#define SOURCE_STOP 3

typedef void (*hhsim_source_fn)(int devidx, int reason);

typedef struct {
    long long t; /* effective time, ps since the start of the measurement */
    long long seq;
    int src;
} Signal;

typedef struct {
    int present;
    int nchannels;
    int open;
    int initialized;
    int calibrated;
    int mode;
    int refsource;
    /* settings */
    int sync_div;
    int sync_cfd_level, sync_cfd_zc;
    int sync_offset_ps;
    int input_cfd_level[HHMAXINPCHAN], input_cfd_zc[HHMAXINPCHAN];
    int input_offset_ps[HHMAXINPCHAN];
    int input_enabled[HHMAXINPCHAN];
    int binning;
    int offset_ns;
    int lencode, histo_len;
    int stop_ovfl;
    unsigned int stop_count;
    int meas_control, start_edge, stop_edge;
    int marker_edges[4];
    int marker_enable[4];
    int holdoff_ns;
    /* rate meters (set by the source) and the readings handed out */
    int sync_rate_hz;
    int count_rate[HHMAXINPCHAN];
    int read_sync_rate;
    int read_count_rate[HHMAXINPCHAN];
    /* measurement */
    int running;   /* between StartMeas and the end of the acquisition time or StopMeas */
    int started;   /* StartMeas was called since Initialize */
    int flags;     /* sticky flags (overflow, fifo full); ACTIVE is derived */
    int tacq_ms;
    long long generation;
    struct timespec wall_start;
    long long device_ps;  /* measurement time reached */
    long long end_ps;     /* when the measurement stopped (valid when !running && started) */
    long long covered_ps; /* the source pushed everything before this */
    long long next_seq;
    Signal *pending;
    long pending_n, pending_cap;
    /* record encoding state */
    long long sync_edges_seen;   /* undivided */
    long long last_sync_edge_ps; /* undivided, -1 before the first */
    long long sync_count;        /* divided syncs counted (index of the last one + 1) */
    long long last_sync_ps;
    long long first_sync_ps;
    long long wraps_emitted;     /* T2: 2^25 ps periods; T3: 1024-sync periods */
    long long last_marker_ps;
    /* FIFO */
    uint32_t *fifo;
    long fifo_head, fifo_tail, fifo_cap;
    /* histograms (histogram mode, and the current continuous-mode block) */
    uint32_t hist[HHMAXINPCHAN][MAXHISTLEN];
    /* continuous mode */
    long long block_index;
    long long block_first_marker_ps[4];
    unsigned int block_marker_count[4];
    unsigned char *cont_queue[CONT_QUEUE_BLOCKS];
    int cont_queue_bytes[CONT_QUEUE_BLOCKS];
    int cont_head, cont_count;
    /* the source */
    hhsim_source_fn source;
} Device;

static Device devices[MAXDEVNUM];
static pthread_mutex_t locks[MAXDEVNUM] = {
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER};
static pthread_once_t defaults_once = PTHREAD_ONCE_INIT;

static void set_default_presence(void) {
    /* one HydraHarp on the bus, at index 0 (HHSIM_SetDevicePresent adds more) */
    for (int i = 0; i < MAXDEVNUM; i++) {
        devices[i].present = (i == 0);
        devices[i].nchannels = DEFAULT_CHANNELS;
    }
}

static int valid_index(int devidx) {
    pthread_once(&defaults_once, set_default_presence);
    return devidx >= 0 && devidx < MAXDEVNUM;
}

/* ------------------------------------------------------------------ locking and checks */
static int lock_open(int devidx, int need_init) {
    if (!valid_index(devidx)) return HH_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&locks[devidx]);
    Device *d = &devices[devidx];
    if (!d->open) {
        pthread_mutex_unlock(&locks[devidx]);
        return HH_ERROR_DEVICE_NOT_OPEN;
    }
    if (need_init && !d->initialized) {
        pthread_mutex_unlock(&locks[devidx]);
        return HH_ERROR_NOT_INITIALIZED;
    }
    return HH_ERROR_NONE;
}

static int unlock_with(int devidx, int code) {
    pthread_mutex_unlock(&locks[devidx]);
    return code;
}

static int channel_ok(const Device *d, int channel) { return channel >= 0 && channel < d->nchannels; }

/* ------------------------------------------------------------------ time */
static long long wall_elapsed_ps(const Device *d) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)(now.tv_sec - d->wall_start.tv_sec) * 1000000000000LL +
           (long long)(now.tv_nsec - d->wall_start.tv_nsec) * 1000LL;
}

static long long tacq_ps(const Device *d) { return (long long)d->tacq_ms * 1000000000LL; }

static int is_continuous(const Device *d) { return d->mode == MODE_CONT; }

static double resolution_ps(const Device *d) {
    if (d->mode == MODE_T2) return BASE_RESOLUTION_PS; /* T2 tags are always base resolution */
    return BASE_RESOLUTION_PS * (double)(1LL << d->binning);
}

/* ------------------------------------------------------------------ FIFO */
static void fifo_put(Device *d, uint32_t record) {
    if (d->fifo_tail == d->fifo_cap && d->fifo_head > 0) {
        memmove(d->fifo, d->fifo + d->fifo_head, sizeof(uint32_t) * (size_t)(d->fifo_tail - d->fifo_head));
        d->fifo_tail -= d->fifo_head;
        d->fifo_head = 0;
    }
    if (d->fifo_tail == d->fifo_cap) {
        long grown = d->fifo_cap ? 2 * d->fifo_cap : 1024 * 1024;
        if (grown > FIFO_MAX_RECORDS) grown = FIFO_MAX_RECORDS;
        if (grown <= d->fifo_cap) {
            d->flags |= FLAG_FIFOFULL; /* the record is lost, as on the hardware */
            return;
        }
        uint32_t *bigger = (uint32_t *)realloc(d->fifo, sizeof(uint32_t) * (size_t)grown);
        if (!bigger) {
            d->flags |= FLAG_FIFOFULL;
            return;
        }
        d->fifo = bigger;
        d->fifo_cap = grown;
    }
    d->fifo[d->fifo_tail++] = record;
}

/* ------------------------------------------------------------------ encoding */
static void t2_emit(Device *d, long long t, int special, int channel) {
    long long needed = t / T2_WRAP;
    while (d->wraps_emitted < needed) {
        long long step = needed - d->wraps_emitted;
        if (step > T2_WRAP - 1) step = T2_WRAP - 1;
        fifo_put(d, 0x80000000u | (0x3Fu << 25) | (uint32_t)step);
        d->wraps_emitted += step;
    }
    uint32_t tag = (uint32_t)(t - d->wraps_emitted * T2_WRAP);
    fifo_put(d, (special ? 0x80000000u : 0u) | ((uint32_t)channel << 25) | tag);
}

static void t3_emit(Device *d, long long nsync, int special, int channel, int dtime) {
    long long needed = nsync / T3_WRAP;
    while (d->wraps_emitted < needed) {
        long long step = needed - d->wraps_emitted;
        if (step > T3_WRAP - 1) step = T3_WRAP - 1;
        fifo_put(d, 0x80000000u | (0x3Fu << 25) | (uint32_t)step);
        d->wraps_emitted += step;
    }
    uint32_t low = (uint32_t)(nsync - d->wraps_emitted * T3_WRAP);
    fifo_put(d, (special ? 0x80000000u : 0u) | ((uint32_t)channel << 25) | ((uint32_t)dtime << 10) | low);
}

/* start-stop time of a photon in resolution bins after the last (divided) sync, minus the offset;
 * -1 when there is no sync yet */
static long long start_stop_bins(const Device *d, long long t) {
    if (d->sync_count == 0) return -1;
    long long delay = t - d->last_sync_ps - (long long)d->offset_ns * 1000LL;
    if (delay < 0) return -1;
    return (long long)floor((double)delay / resolution_ps(d));
}

static void stop_measurement(Device *d, long long at_ps) {
    if (!d->running) return;
    d->running = 0;
    d->end_ps = at_ps;
    d->device_ps = at_ps;
}

static void count_in_histogram(Device *d, int channel, long long t) {
    long long bin = start_stop_bins(d, t);
    int len = d->histo_len;
    if (bin < 0 || bin >= len) return;
    uint32_t *cell = &d->hist[channel][bin];
    if (*cell == STOPCNTMAX) {
        d->flags |= FLAG_OVERFLOW; /* clipped (page 24) */
        return;
    }
    (*cell)++;
    if (d->mode == MODE_HIST && *cell >= d->stop_count && d->stop_ovfl) {
        d->flags |= FLAG_OVERFLOW;
        stop_measurement(d, t);
    }
}

static void cont_finish_block(Device *d) {
    int enabled = 0;
    for (int c = 0; c < d->nchannels; c++) enabled += d->input_enabled[c];
    int bytes = CONT_HEADER_BYTES + enabled * (d->histo_len * 4 + 8);
    unsigned char *block = (unsigned char *)calloc(1, (size_t)bytes);
    if (!block) {
        d->flags |= FLAG_FIFOFULL;
        return;
    }
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    u16 = (uint16_t)enabled; memcpy(block + 0, &u16, 2);
    u16 = (uint16_t)d->histo_len; memcpy(block + 2, &u16, 2);
    u32 = (uint32_t)d->block_index; memcpy(block + 4, &u32, 4);
    u64 = (uint64_t)(d->block_index * tacq_ps(d) / 1000); memcpy(block + 8, &u64, 8);
    u64 = (uint64_t)(tacq_ps(d) / 1000); memcpy(block + 16, &u64, 8);
    for (int m = 0; m < 4; m++) {
        u64 = d->block_first_marker_ps[m] >= 0 ? (uint64_t)(d->block_first_marker_ps[m] / 1000) : 0;
        memcpy(block + 24 + 8 * m, &u64, 8);
        u16 = (uint16_t)(d->block_marker_count[m] > 0xFFFF ? 0xFFFF : d->block_marker_count[m]);
        memcpy(block + 56 + 2 * m, &u16, 2);
    }
    unsigned char *out = block + CONT_HEADER_BYTES;
    for (int c = 0; c < d->nchannels; c++) {
        if (!d->input_enabled[c]) continue;
        uint64_t sum = 0;
        for (int b = 0; b < d->histo_len; b++) sum += d->hist[c][b];
        memcpy(out, d->hist[c], (size_t)d->histo_len * 4);
        memcpy(out + (size_t)d->histo_len * 4, &sum, 8);
        out += (size_t)d->histo_len * 4 + 8;
        memset(d->hist[c], 0, sizeof(d->hist[c]));
    }
    if (d->cont_count == CONT_QUEUE_BLOCKS) {
        d->flags |= FLAG_FIFOFULL; /* the PC did not fetch the blocks in time */
        free(block);
    } else {
        int slot = (d->cont_head + d->cont_count) % CONT_QUEUE_BLOCKS;
        d->cont_queue[slot] = block;
        d->cont_queue_bytes[slot] = bytes;
        d->cont_count++;
    }
    d->block_index++;
    for (int m = 0; m < 4; m++) {
        d->block_first_marker_ps[m] = -1;
        d->block_marker_count[m] = 0;
    }
}

static void cont_advance_blocks(Device *d, long long t) {
    while (t >= (d->block_index + 1) * tacq_ps(d)) cont_finish_block(d);
}

static void on_sync(Device *d, long long t) {
    long long index = d->sync_edges_seen++;
    d->last_sync_edge_ps = t;
    if (index % d->sync_div != 0) return; /* the divider passes every div-th edge */
    if (d->sync_count == 0) d->first_sync_ps = t;
    d->sync_count++;
    d->last_sync_ps = t;
    if (d->mode == MODE_T2) t2_emit(d, t, 1, 0);
}

static void on_photon(Device *d, int channel, long long t) {
    switch (d->mode) {
        case MODE_T2:
            t2_emit(d, t, 0, channel);
            break;
        case MODE_T3: {
            long long bins = start_stop_bins(d, t);
            /* events outside the T3 span are not recorded (page 30) */
            if (bins >= 0 && bins < T3_DTIME_BINS) t3_emit(d, d->sync_count - 1, 0, channel, (int)bins);
            break;
        }
        default: /* histogram and continuous mode */
            count_in_histogram(d, channel, t);
            break;
    }
}

static void on_marker(Device *d, int line, long long t) {
    if (d->last_marker_ps >= 0 && t - d->last_marker_ps < (long long)d->holdoff_ns * 1000LL) return;
    d->last_marker_ps = t;
    if (d->mode == MODE_T2) {
        t2_emit(d, t, 1, 1 << line);
    } else if (d->mode == MODE_T3) {
        t3_emit(d, d->sync_count > 0 ? d->sync_count - 1 : 0, 1, 1 << line, 0);
    } else if (d->mode == MODE_CONT) {
        if (d->block_first_marker_ps[line] < 0) d->block_first_marker_ps[line] = t;
        d->block_marker_count[line]++;
    }
}

static void process_signal(Device *d, const Signal *s) {
    if (is_continuous(d)) cont_advance_blocks(d, s->t);
    if (s->src == SIG_SYNC) {
        on_sync(d, s->t);
    } else if (s->src >= SIG_MARKER_RISING && s->src < SIG_MARKER_RISING + 8) {
        int rising = s->src < SIG_MARKER_FALLING;
        int line = s->src - (rising ? SIG_MARKER_RISING : SIG_MARKER_FALLING);
        if (d->marker_enable[line] && d->marker_edges[line] == rising && d->mode != MODE_HIST)
            on_marker(d, line, s->t);
    } else if (s->src >= 0 && s->src < d->nchannels) {
        on_photon(d, s->src, s->t);
    }
}

static int compare_signals(const void *a, const void *b) {
    const Signal *x = (const Signal *)a, *y = (const Signal *)b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

/* Bring the measurement up to the device time: turn every pending signal whose order is final
 * into records, histogram counts or blocks, and end the measurement when its time is over. */
static void advance(Device *d) {
    if (!d->started) return;
    int single_shot = !is_continuous(d);
    long long horizon = d->end_ps;
    if (d->running) {
        long long now = d->source ? d->covered_ps : wall_elapsed_ps(d);
        if (now > d->device_ps) d->device_ps = now;
        horizon = d->covered_ps - ORDER_GUARD_PS;
        if (horizon > d->device_ps) horizon = d->device_ps;
        if (single_shot && d->device_ps >= tacq_ps(d)) horizon = tacq_ps(d); /* all of it is final */
    }
    long i = 0;
    for (; i < d->pending_n; i++) {
        const Signal *s = &d->pending[i];
        if (s->t >= horizon) break;
        if (!d->running && s->t > d->end_ps) break; /* stop-on-overflow ended it at an event */
        if (s->t >= 0) process_signal(d, s);
    }
    if (d->running && single_shot && d->device_ps >= tacq_ps(d)) stop_measurement(d, tacq_ps(d));
    if (!d->running) i = d->pending_n; /* nothing after the end is recorded */
    memmove(d->pending, d->pending + i, sizeof(Signal) * (size_t)(d->pending_n - i));
    d->pending_n -= i;
    if (!single_shot && d->running) cont_advance_blocks(d, horizon);
}

static void reset_measurement(Device *d) {
    d->running = 0;
    d->started = 0;
    d->flags = 0;
    d->device_ps = d->end_ps = d->covered_ps = 0;
    d->pending_n = 0;
    d->sync_edges_seen = d->sync_count = 0;
    d->last_sync_edge_ps = -1;
    d->last_sync_ps = d->first_sync_ps = 0;
    d->wraps_emitted = 0;
    d->last_marker_ps = -1;
    d->fifo_head = d->fifo_tail = 0;
    d->block_index = 0;
    for (int m = 0; m < 4; m++) {
        d->block_first_marker_ps[m] = -1;
        d->block_marker_count[m] = 0;
    }
    while (d->cont_count > 0) {
        free(d->cont_queue[d->cont_head]);
        d->cont_head = (d->cont_head + 1) % CONT_QUEUE_BLOCKS;
        d->cont_count--;
    }
    d->cont_head = 0;
}

static void default_settings(Device *d) {
    d->sync_div = 1;
    d->sync_cfd_level = d->sync_cfd_zc = 0;
    d->sync_offset_ps = 0;
    for (int c = 0; c < HHMAXINPCHAN; c++) {
        d->input_cfd_level[c] = d->input_cfd_zc[c] = 0;
        d->input_offset_ps[c] = 0;
        d->input_enabled[c] = 1;
        d->read_count_rate[c] = 0;
    }
    d->binning = 0;
    d->offset_ns = 0;
    d->lencode = MAXLENCODE;
    d->histo_len = MAXHISTLEN;
    d->stop_ovfl = 0;
    d->stop_count = STOPCNTMAX;
    d->meas_control = MEASCTRL_SINGLESHOT_CTC;
    d->start_edge = d->stop_edge = 1;
    for (int m = 0; m < 4; m++) d->marker_edges[m] = 1, d->marker_enable[m] = 0;
    d->holdoff_ns = 0;
    d->read_sync_rate = 0;
    memset(d->hist, 0, sizeof(d->hist));
}

/* Let the source push what happened up to its now (outside the lock: it calls back into us). */
static void call_source(int devidx, int reason) {
    pthread_mutex_lock(&locks[devidx]);
    hhsim_source_fn fn = devices[devidx].open ? devices[devidx].source : NULL;
    pthread_mutex_unlock(&locks[devidx]);
    if (fn) fn(devidx, reason);
}

/* ------------------------------------------------------------------ general functions */
int HH_GetLibraryVersion(char *vers) {
    if (!vers) return HH_ERROR_INVALID_ARGUMENT;
    strcpy(vers, LIB_VERSION);
    return HH_ERROR_NONE;
}

int HH_GetErrorString(char *errstring, int errcode) {
    const char *text;
    switch (errcode) {
        case 0: text = "HH_ERROR_NONE"; break;
        case -1: text = "HH_ERROR_DEVICE_OPEN_FAIL"; break;
        case -2: text = "HH_ERROR_DEVICE_BUSY"; break;
        case -3: text = "HH_ERROR_DEVICE_HEVENT_FAIL"; break;
        case -4: text = "HH_ERROR_DEVICE_CALLBSET_FAIL"; break;
        case -5: text = "HH_ERROR_DEVICE_BARMAP_FAIL"; break;
        case -6: text = "HH_ERROR_DEVICE_CLOSE_FAIL"; break;
        case -7: text = "HH_ERROR_DEVICE_RESET_FAIL"; break;
        case -8: text = "HH_ERROR_DEVICE_GETVERSION_FAIL"; break;
        case -9: text = "HH_ERROR_DEVICE_VERSION_MISMATCH"; break;
        case -10: text = "HH_ERROR_DEVICE_NOT_OPEN"; break;
        case -16: text = "HH_ERROR_INSTANCE_RUNNING"; break;
        case -17: text = "HH_ERROR_INVALID_ARGUMENT"; break;
        case -18: text = "HH_ERROR_INVALID_MODE"; break;
        case -19: text = "HH_ERROR_INVALID_OPTION"; break;
        case -20: text = "HH_ERROR_INVALID_MEMORY"; break;
        case -21: text = "HH_ERROR_INVALID_RDATA"; break;
        case -22: text = "HH_ERROR_NOT_INITIALIZED"; break;
        case -23: text = "HH_ERROR_NOT_CALIBRATED"; break;
        case -24: text = "HH_ERROR_DMA_FAIL"; break;
        case -25: text = "HH_ERROR_XTDEVICE_FAIL"; break;
        case -26: text = "HH_ERROR_FPGACONF_FAIL"; break;
        case -27: text = "HH_ERROR_IFCONF_FAIL"; break;
        case -28: text = "HH_ERROR_FIFORESET_FAIL"; break;
        case -32: text = "HH_ERROR_USB_GETDRIVERVER_FAIL"; break;
        case -33: text = "HH_ERROR_USB_DRIVERVER_MISMATCH"; break;
        case -34: text = "HH_ERROR_USB_GETIFINFO_FAIL"; break;
        case -35: text = "HH_ERROR_USB_HISPEED_FAIL"; break;
        case -36: text = "HH_ERROR_USB_VCMD_FAIL"; break;
        case -37: text = "HH_ERROR_USB_BULKRD_FAIL"; break;
        case -38: text = "HH_ERROR_USB_RESET_FAIL"; break;
        case -40: text = "HH_ERROR_LANEUP_TIMEOUT"; break;
        case -41: text = "HH_ERROR_DONEALL_TIMEOUT"; break;
        case -42: text = "HH_ERROR_MODACK_TIMEOUT"; break;
        case -43: text = "HH_ERROR_MACTIVE_TIMEOUT"; break;
        case -44: text = "HH_ERROR_MEMCLEAR_FAIL"; break;
        case -45: text = "HH_ERROR_MEMTEST_FAIL"; break;
        case -46: text = "HH_ERROR_CALIB_FAIL"; break;
        case -47: text = "HH_ERROR_REFSEL_FAIL"; break;
        case -48: text = "HH_ERROR_STATUS_FAIL"; break;
        case -49: text = "HH_ERROR_MODNUM_FAIL"; break;
        case -50: text = "HH_ERROR_DIGMUX_FAIL"; break;
        case -51: text = "HH_ERROR_MODMUX_FAIL"; break;
        case -52: text = "HH_ERROR_MODFWPCB_MISMATCH"; break;
        case -53: text = "HH_ERROR_MODFWVER_MISMATCH"; break;
        case -54: text = "HH_ERROR_MODPROPERTY_MISMATCH"; break;
        case -55: text = "HH_ERROR_INVALID_MAGIC"; break;
        case -56: text = "HH_ERROR_INVALID_LENGTH"; break;
        case -57: text = "HH_ERROR_RATE_FAIL"; break;
        case -58: text = "HH_ERROR_MODFWVER_TOO_LOW"; break;
        case -59: text = "HH_ERROR_MODFWVER_TOO_HIGH"; break;
        default:
            if (errcode <= -64 && errcode >= -74) {
                /* the eleven EEPROM errors */
                if (!errstring) return HH_ERROR_INVALID_ARGUMENT;
                snprintf(errstring, 40, "HH_ERROR_EEPROM_F%02d", -63 - errcode);
                return HH_ERROR_NONE;
            }
            text = "HH_ERROR_UNKNOWN";
            break;
    }
    if (!errstring) return HH_ERROR_INVALID_ARGUMENT;
    snprintf(errstring, 40, "%s", text); /* the caller provides at least 40 characters (page 20) */
    return HH_ERROR_NONE;
}

/* ------------------------------------------------------------------ device functions */
int HH_OpenDevice(int devidx, char *serial) {
    if (!valid_index(devidx)) return HH_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&locks[devidx]);
    Device *d = &devices[devidx];
    if (!d->present) return unlock_with(devidx, HH_ERROR_DEVICE_OPEN_FAIL);
    if (d->open) return unlock_with(devidx, HH_ERROR_DEVICE_BUSY);
    hhsim_source_fn source = d->source;
    int nchannels = d->nchannels;
    free(d->fifo);
    memset(d, 0, sizeof(*d));
    d->present = 1;
    d->nchannels = nchannels;
    d->source = source;
    d->open = 1;
    default_settings(d);
    reset_measurement(d);
    /* 8-digit serial starting with 0100, the leading zero not shown (page 14) */
    if (serial) snprintf(serial, 8, "%07d", 1000000 + (devidx & 7));
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_CloseDevice(int devidx) {
    if (!valid_index(devidx)) return HH_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&locks[devidx]);
    int was_running = devices[devidx].open && devices[devidx].running;
    pthread_mutex_unlock(&locks[devidx]);
    if (was_running) call_source(devidx, SOURCE_STOP);
    pthread_mutex_lock(&locks[devidx]);
    Device *d = &devices[devidx];
    if (d->open) { /* closing a device that is not open does no harm (page 14) */
        reset_measurement(d);
        free(d->fifo);
        free(d->pending);
        d->fifo = NULL;
        d->pending = NULL;
        d->fifo_cap = d->pending_cap = 0;
        d->open = d->initialized = d->calibrated = 0;
    }
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_Initialize(int devidx, int mode, int refsource) {
    int rc = lock_open(devidx, 0);
    if (rc) return rc;
    Device *d = &devices[devidx];
    if (mode != MODE_HIST && mode != MODE_T2 && mode != MODE_T3 && mode != MODE_CONT)
        return unlock_with(devidx, HH_ERROR_INVALID_MODE);
    if (refsource != 0 && refsource != 1) return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    if (d->running) {
        pthread_mutex_unlock(&locks[devidx]);
        call_source(devidx, SOURCE_STOP);
        pthread_mutex_lock(&locks[devidx]);
    }
    reset_measurement(d);
    default_settings(d);
    if (mode == MODE_CONT) {
        d->lencode = MAXLENCODE_CONT;
        d->histo_len = MAXHISTLEN_CONT;
        d->meas_control = MEASCTRL_CONT_CTC_RESTART;
    }
    d->mode = mode;
    d->refsource = refsource;
    d->initialized = 1;
    d->calibrated = 0;
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_GetHardwareInfo(int devidx, char *model, char *partno, char *version) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    /* buffer sizes of page 21: model 16, partno 8, version 8 characters */
    if (model) snprintf(model, 16, "%s", "HydraHarp 400");
    if (partno) snprintf(partno, 8, "%s", "930004");
    if (version) snprintf(version, 8, "%s", "2.0");
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_GetSerialNumber(int devidx, char *serial) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    if (!serial) return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    snprintf(serial, 8, "%07d", 1000000 + (devidx & 7));
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_GetFeatures(int devidx, int *features) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    if (!features) return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    *features = FEATURE_DLL | FEATURE_TTTR | FEATURE_MARKERS | FEATURE_LOWRES;
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_GetBaseResolution(int devidx, double *resolution, int *binsteps) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    if (!resolution || !binsteps) return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    *resolution = BASE_RESOLUTION_PS;
    *binsteps = BINSTEPSMAX;
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_GetHardwareDebugInfo(int devidx, char *debuginfo) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    if (!debuginfo) return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    const Device *d = &devices[devidx];
    snprintf(debuginfo, 65536,
             "hhlib_sim device %d: simulated HydraHarp 400, %d input channels\n"
             "mode %d, refsource %d, calibrated %d, running %d, flags 0x%04X\n"
             "FIFO holds %ld records, %ld signals pending\n",
             devidx, d->nchannels, d->mode, d->refsource, d->calibrated, d->running, d->flags,
             d->fifo_tail - d->fifo_head, d->pending_n);
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_GetNumOfInputChannels(int devidx, int *nchannels) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    if (!nchannels) return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    *nchannels = devices[devidx].nchannels;
    return unlock_with(devidx, HH_ERROR_NONE);
}

/* Module layout of the simulated unit: module 0 holds the sync input and the clock, then one
 * input module per two channels. Model and version codes are ours (service use only, page 22). */
static int module_count(const Device *d) { return 1 + (d->nchannels + 1) / 2; }

int HH_GetNumOfModules(int devidx, int *nummod) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    if (!nummod) return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    *nummod = module_count(&devices[devidx]);
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_GetModuleInfo(int devidx, int modidx, int *modelcode, int *versioncode) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    if (!modelcode || !versioncode || modidx < 0 || modidx >= module_count(&devices[devidx]))
        return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    *modelcode = modidx == 0 ? 1000 : 1010;
    *versioncode = 0x0200;
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_GetModuleIndex(int devidx, int channel, int *modidx) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    if (!modidx || !channel_ok(&devices[devidx], channel)) return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    *modidx = 1 + channel / 2;
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_Calibrate(int devidx) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    if (devices[devidx].running) return unlock_with(devidx, HH_ERROR_INSTANCE_RUNNING);
    devices[devidx].calibrated = 1;
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_SetSyncDiv(int devidx, int div) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    /* 1, 2, 4, .., SYNCDIVMAX (page 22) */
    if (div < SYNCDIVMIN || div > SYNCDIVMAX || (div & (div - 1)) != 0)
        return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    devices[devidx].sync_div = div;
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_SetSyncCFD(int devidx, int level, int zc) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    if (level < DISCRMIN || level > DISCRMAX || zc < ZCMIN || zc > ZCMAX)
        return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    devices[devidx].sync_cfd_level = level;
    devices[devidx].sync_cfd_zc = zc;
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_SetSyncChannelOffset(int devidx, int value) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    if (value < CHANOFFSMIN || value > CHANOFFSMAX) return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    devices[devidx].sync_offset_ps = value;
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_SetInputCFD(int devidx, int channel, int level, int zc) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    Device *d = &devices[devidx];
    if (!channel_ok(d, channel) || level < DISCRMIN || level > DISCRMAX || zc < ZCMIN || zc > ZCMAX)
        return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    d->input_cfd_level[channel] = level;
    d->input_cfd_zc[channel] = zc;
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_SetInputChannelOffset(int devidx, int channel, int value) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    Device *d = &devices[devidx];
    if (!channel_ok(d, channel) || value < CHANOFFSMIN || value > CHANOFFSMAX)
        return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    d->input_offset_ps[channel] = value;
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_SetInputChannelEnable(int devidx, int channel, int enable) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    Device *d = &devices[devidx];
    if (!channel_ok(d, channel) || (enable != 0 && enable != 1))
        return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    d->input_enabled[channel] = enable;
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_SetStopOverflow(int devidx, int stop_ovfl, unsigned int stopcount) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    if ((stop_ovfl != 0 && stop_ovfl != 1) || stopcount < STOPCNTMIN)
        return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    devices[devidx].stop_ovfl = stop_ovfl;
    devices[devidx].stop_count = stopcount;
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_SetBinning(int devidx, int binning) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    if (binning < 0 || binning > BINSTEPSMAX - 1) return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    devices[devidx].binning = binning;
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_SetOffset(int devidx, int offset) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    if (offset < OFFSETMIN || offset > OFFSETMAX) return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    devices[devidx].offset_ns = offset;
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_SetHistoLen(int devidx, int lencode, int *actuallen) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    Device *d = &devices[devidx];
    int maxcode = is_continuous(d) ? MAXLENCODE_CONT : MAXLENCODE;
    if (lencode < 0 || lencode > maxcode || !actuallen) return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    d->lencode = lencode;
    d->histo_len = 1024 << lencode;
    *actuallen = d->histo_len;
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_SetMeasControl(int devidx, int control, int startedge, int stopedge) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    Device *d = &devices[devidx];
    if (control < MEASCTRL_SINGLESHOT_CTC || control > MEASCTRL_CONT_CTC_RESTART ||
        (startedge != 0 && startedge != 1) || (stopedge != 0 && stopedge != 1))
        return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    int continuous_code = control >= MEASCTRL_CONT_C1_GATED;
    if (continuous_code != is_continuous(d)) return unlock_with(devidx, HH_ERROR_INVALID_MODE);
    /* the simulated bench has nothing wired to the C1/C2 control connectors */
    if (control != MEASCTRL_SINGLESHOT_CTC && control != MEASCTRL_CONT_CTC_RESTART)
        return unlock_with(devidx, HH_ERROR_INVALID_OPTION);
    d->meas_control = control;
    d->start_edge = startedge;
    d->stop_edge = stopedge;
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_ClearHistMem(int devidx) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    memset(devices[devidx].hist, 0, sizeof(devices[devidx].hist));
    devices[devidx].flags &= ~FLAG_OVERFLOW;
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_StartMeas(int devidx, int tacq) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    Device *d = &devices[devidx];
    if (!d->calibrated) return unlock_with(devidx, HH_ERROR_NOT_CALIBRATED);
    if (tacq < ACQTMIN || tacq > ACQTMAX) return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    /* A start while running restarts the measurement: PicoQuant's 2024 T2/T3 "instant processing"
     * Python demo calls HH_StartMeas twice in a row and was tested against HHLib 3.0.0.4. */
    int was_running = d->running;
    /* histogram memory, and with it its overflow flag, is only cleared by HH_ClearHistMem */
    int overflow = d->mode == MODE_HIST ? (d->flags & FLAG_OVERFLOW) : 0;
    reset_measurement(d);
    d->flags |= overflow;
    if (d->refsource == 1) d->flags |= FLAG_REF_LOST; /* no external 10 MHz reference on the bench */
    d->tacq_ms = tacq;
    d->running = 1;
    d->started = 1;
    d->generation++;
    clock_gettime(CLOCK_MONOTONIC, &d->wall_start);
    pthread_mutex_unlock(&locks[devidx]);
    if (was_running) call_source(devidx, SOURCE_STOP);
    call_source(devidx, SOURCE_START);
    return HH_ERROR_NONE;
}

int HH_StopMeas(int devidx) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    int was_running = devices[devidx].running;
    pthread_mutex_unlock(&locks[devidx]);
    if (was_running) call_source(devidx, SOURCE_POLL);
    rc = lock_open(devidx, 1);
    if (rc) return rc;
    Device *d = &devices[devidx];
    advance(d);
    if (d->running) {
        /* whatever the source has not covered yet did not happen before the stop */
        d->covered_ps = d->device_ps;
        stop_measurement(d, d->device_ps);
        advance(d);
    }
    pthread_mutex_unlock(&locks[devidx]);
    if (was_running) call_source(devidx, SOURCE_STOP);
    return HH_ERROR_NONE;
}

/* the common preamble of every time-dependent query */
static int lock_advanced(int devidx) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    int running = devices[devidx].running;
    pthread_mutex_unlock(&locks[devidx]);
    if (running) call_source(devidx, SOURCE_POLL);
    rc = lock_open(devidx, 1);
    if (rc) return rc;
    advance(&devices[devidx]);
    return HH_ERROR_NONE;
}

int HH_CTCStatus(int devidx, int *ctcstatus) {
    int rc = lock_advanced(devidx);
    if (rc) return rc;
    if (!ctcstatus) return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    *ctcstatus = devices[devidx].running ? 0 : 1;
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_GetHistogram(int devidx, unsigned int *chcount, int channel, int clear) {
    int rc = lock_advanced(devidx);
    if (rc) return rc;
    Device *d = &devices[devidx];
    if (d->mode != MODE_HIST) return unlock_with(devidx, HH_ERROR_INVALID_MODE);
    if (!chcount || !channel_ok(d, channel) || (clear != 0 && clear != 1))
        return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    memcpy(chcount, d->hist[channel], sizeof(uint32_t) * (size_t)d->histo_len);
    if (clear) memset(d->hist[channel], 0, sizeof(d->hist[channel]));
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_GetResolution(int devidx, double *resolution) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    if (!resolution) return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    *resolution = resolution_ps(&devices[devidx]);
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_GetSyncPeriod(int devidx, double *period) {
    int rc = lock_advanced(devidx);
    if (rc) return rc;
    if (!period) return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    const Device *d = &devices[devidx];
    /* In seconds, as the 3.0.0.4 demos use it (they print period * 1e9 as ns); the 3.0.0.2 manual
     * (page 27) says ps. Measured from the counted syncs once two periods have elapsed, else from
     * the rate meter; the manual leaves it undefined otherwise. */
    if (d->sync_count >= 3) {
        *period = (double)(d->last_sync_ps - d->first_sync_ps) / (double)(d->sync_count - 1) * 1e-12;
    } else if (d->sync_rate_hz > 0) {
        *period = (double)d->sync_div / (double)d->sync_rate_hz;
    } else {
        *period = 0.0;
    }
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_GetSyncRate(int devidx, int *syncrate) {
    if (!valid_index(devidx)) return HH_ERROR_INVALID_ARGUMENT;
    call_source(devidx, SOURCE_RATES);
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    if (!syncrate) return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    /* the external (undivided) rate (page 22) */
    *syncrate = devices[devidx].read_sync_rate = devices[devidx].sync_rate_hz;
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_GetCountRate(int devidx, int channel, int *cntrate) {
    if (!valid_index(devidx)) return HH_ERROR_INVALID_ARGUMENT;
    call_source(devidx, SOURCE_RATES);
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    Device *d = &devices[devidx];
    if (!cntrate || !channel_ok(d, channel)) return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    *cntrate = d->read_count_rate[channel] = d->input_enabled[channel] ? d->count_rate[channel] : 0;
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_GetFlags(int devidx, int *flags) {
    int rc = lock_advanced(devidx);
    if (rc) return rc;
    Device *d = &devices[devidx];
    if (!flags) return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    int value = d->flags;
    if (d->running) value |= FLAG_ACTIVE;
    long long since_sync = d->device_ps - (d->last_sync_edge_ps < 0 ? 0 : d->last_sync_edge_ps);
    if (d->running && d->mode != MODE_T2 && since_sync > SYNC_LOST_AFTER_PS) value |= FLAG_SYNC_LOST;
    *flags = value;
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_GetElapsedMeasTime(int devidx, double *elapsed) {
    int rc = lock_advanced(devidx);
    if (rc) return rc;
    if (!elapsed) return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    /* while running and after the stop (page 26) */
    *elapsed = (double)devices[devidx].device_ps * 1e-9;
    return unlock_with(devidx, HH_ERROR_NONE);
}

/* Warnings from the last rate readings and the current settings (manual section 8.3). */
int HH_GetWarnings(int devidx, int *warnings) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    if (!warnings) return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    const Device *d = &devices[devidx];
    int w = 0;
    int histo_or_t3 = d->mode == MODE_HIST || d->mode == MODE_T3 || d->mode == MODE_CONT;
    double sync = d->read_sync_rate;
    double total = 0.0, highest = 0.0;
    for (int c = 0; c < d->nchannels; c++) {
        total += d->read_count_rate[c];
        if (d->read_count_rate[c] > highest) highest = d->read_count_rate[c];
    }
    if (histo_or_t3 && sync == 0) w |= WARNING_SYNC_RATE_ZERO;
    if (d->mode == MODE_T2 ? sync > MAX_T2_SYNC_RATE : sync / d->sync_div > MAX_SYNC_RATE_DIVIDED)
        w |= WARNING_SYNC_RATE_TOO_HIGH;
    if (histo_or_t3 && total == 0) w |= WARNING_INPT_RATE_ZERO;
    if ((d->mode == MODE_T2 || d->mode == MODE_T3) && total > MAX_TTTR_INPUT_RATE)
        w |= WARNING_INPT_RATE_TOO_HIGH;
    if (histo_or_t3 && sync > 0 && highest > PILEUP_RATIO * sync) w |= WARNING_INPT_RATE_RATIO;
    if (d->mode == MODE_T2 && d->sync_div > 1) w |= WARNING_DIVIDER_GREATER_ONE;
    if (histo_or_t3 && sync > 0) {
        double span_ps = resolution_ps(d) * (d->mode == MODE_T3 ? T3_DTIME_BINS : MAXHISTLEN);
        double period_ps = 1e12 / sync; /* "the sync period (1/SyncRate)" (page 30) */
        if (period_ps > span_ps) w |= WARNING_TIME_SPAN_TOO_SMALL;
        else if (d->offset_ns > 0) w |= WARNING_OFFSET_UNNECESSARY;
    }
    *warnings = w;
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_GetWarningsText(int devidx, char *text, int warnings) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    if (!text) return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    static const struct { int bit; const char *line; } table[] = {
        {WARNING_SYNC_RATE_ZERO, "The sync rate is zero: no signal at the sync input."},
        {WARNING_SYNC_RATE_TOO_LOW, "The sync rate is too low."},
        {WARNING_SYNC_RATE_TOO_HIGH, "The sync rate is too high for this mode and divider."},
        {WARNING_INPT_RATE_ZERO, "The input rate is zero: no counts at any input channel."},
        {WARNING_INPT_RATE_TOO_HIGH, "The total input rate is too high: the FIFO will overrun."},
        {WARNING_INPT_RATE_RATIO, "An input rate exceeds 5% of the sync rate: expect pile-up."},
        {WARNING_DIVIDER_GREATER_ONE, "The sync divider is greater than one in T2 mode."},
        {WARNING_TIME_SPAN_TOO_SMALL, "The sync period is longer than the measurement time span."},
        {WARNING_OFFSET_UNNECESSARY, "An offset is set although the time span covers the sync period."},
    };
    size_t used = 0;
    text[0] = '\0';
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (!(warnings & table[i].bit)) continue;
        int n = snprintf(text + used, 16384 - used, "%s\n", table[i].line);
        if (n < 0 || (size_t)n >= 16384 - used) break;
        used += (size_t)n;
    }
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_SetMarkerHoldoffTime(int devidx, int holdofftime) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    if (holdofftime < HOLDOFFMIN || holdofftime > HOLDOFFMAX) return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    devices[devidx].holdoff_ns = holdofftime;
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_SetMarkerEdges(int devidx, int me1, int me2, int me3, int me4) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    int e[4] = {me1, me2, me3, me4};
    for (int i = 0; i < 4; i++)
        if (e[i] != 0 && e[i] != 1) return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    memcpy(devices[devidx].marker_edges, e, sizeof(e));
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_SetMarkerEnable(int devidx, int en1, int en2, int en3, int en4) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    int e[4] = {en1, en2, en3, en4};
    for (int i = 0; i < 4; i++)
        if (e[i] != 0 && e[i] != 1) return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    memcpy(devices[devidx].marker_enable, e, sizeof(e));
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_ReadFiFo(int devidx, unsigned int *buffer, int count, int *nactual) {
    int rc = lock_advanced(devidx);
    if (rc) return rc;
    Device *d = &devices[devidx];
    if (d->mode != MODE_T2 && d->mode != MODE_T3) return unlock_with(devidx, HH_ERROR_INVALID_MODE);
    /* a multiple of 128 records, at most TTREADMAX (page 27) */
    if (!buffer || !nactual || count < TTREADMIN || count > TTREADMAX || count % TTREADMIN != 0)
        return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    long available = d->fifo_tail - d->fifo_head;
    long n = available < count ? available : count;
    /* USB 3.0 transfer: complete chunks of 128 records first, a remainder only when no complete
     * chunk is left (page 27) */
    if (available >= TTREADMIN) n -= n % TTREADMIN;
    memcpy(buffer, d->fifo + d->fifo_head, sizeof(uint32_t) * (size_t)n);
    d->fifo_head += n;
    if (d->fifo_head == d->fifo_tail) d->fifo_head = d->fifo_tail = 0;
    *nactual = (int)n;
    return unlock_with(devidx, HH_ERROR_NONE);
}

int HH_GetContModeBlock(int devidx, void *buffer, int *nbytesreceived) {
    int rc = lock_advanced(devidx);
    if (rc) return rc;
    Device *d = &devices[devidx];
    if (!is_continuous(d)) return unlock_with(devidx, HH_ERROR_INVALID_MODE);
    if (!buffer || !nbytesreceived) return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    if (d->cont_count == 0) {
        *nbytesreceived = 0;
        return unlock_with(devidx, HH_ERROR_NONE);
    }
    int slot = d->cont_head;
    memcpy(buffer, d->cont_queue[slot], (size_t)d->cont_queue_bytes[slot]);
    *nbytesreceived = d->cont_queue_bytes[slot];
    free(d->cont_queue[slot]);
    d->cont_queue[slot] = NULL;
    d->cont_head = (d->cont_head + 1) % CONT_QUEUE_BLOCKS;
    d->cont_count--;
    return unlock_with(devidx, HH_ERROR_NONE);
}

/* ================================================================== simulation entry points */

/* Which device indices have a HydraHarp "plugged in" (default: index 0 only). */
int HHSIM_SetDevicePresent(int devidx, int present, int nchannels) {
    if (!valid_index(devidx)) return HH_ERROR_INVALID_ARGUMENT;
    if (nchannels < 1 || nchannels > HHMAXINPCHAN) return HH_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&locks[devidx]);
    if (devices[devidx].open) return unlock_with(devidx, HH_ERROR_DEVICE_BUSY);
    devices[devidx].present = present ? 1 : 0;
    devices[devidx].nchannels = nchannels;
    return unlock_with(devidx, HH_ERROR_NONE);
}

/* Raise (or clear) FLAG_SYSERROR: the source failed, so the measurement data is incomplete. */
int HHSIM_SetSystemError(int devidx, int on) {
    int rc = lock_open(devidx, 0);
    if (rc) return rc;
    if (on) devices[devidx].flags |= FLAG_SYSERROR;
    else devices[devidx].flags &= ~FLAG_SYSERROR;
    return unlock_with(devidx, HH_ERROR_NONE);
}

/* Register (or, with NULL, remove) the callback that feeds device ``devidx``. */
int HHSIM_SetSource(int devidx, hhsim_source_fn fn) {
    if (!valid_index(devidx)) return HH_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&locks[devidx]);
    devices[devidx].source = fn;
    return unlock_with(devidx, HH_ERROR_NONE);
}

/* What the source needs to know about the current measurement. */
int HHSIM_GetMeasurement(int devidx, int *running, int *mode, int *tacq_ms, long long *generation,
                         long long *covered_ps) {
    int rc = lock_open(devidx, 0);
    if (rc) return rc;
    const Device *d = &devices[devidx];
    if (running) *running = d->running;
    if (mode) *mode = d->mode;
    if (tacq_ms) *tacq_ms = d->tacq_ms;
    if (generation) *generation = d->generation;
    if (covered_ps) *covered_ps = d->covered_ps;
    return unlock_with(devidx, HH_ERROR_NONE);
}

/* The rate meters: the external sync rate and one count rate per input channel (counts/s). */
int HHSIM_SetRates(int devidx, int syncrate, const int *cntrates, int n) {
    int rc = lock_open(devidx, 0);
    if (rc) return rc;
    Device *d = &devices[devidx];
    if (syncrate < 0 || n < 0 || n > d->nchannels || (n > 0 && !cntrates))
        return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    d->sync_rate_hz = syncrate;
    for (int c = 0; c < n; c++) d->count_rate[c] = cntrates[c] < 0 ? 0 : cntrates[c];
    return unlock_with(devidx, HH_ERROR_NONE);
}

/*
 * Signals at the inputs of a running measurement. time_ps: when the signal arrived at the
 * connector, ps since HH_StartMeas (before the channel offsets). source: 0..7 detector pulse on
 * that input channel, 8 sync edge, 16+k rising and 20+k falling edge on marker line k (0..3).
 * covered_ps: the source promises that no later push holds a signal earlier than this; with a
 * source registered it is also the measurement time the device has reached.
 * Returns the number of signals accepted (pushes outside a running measurement accept none).
 */
int HHSIM_PushSignals(int devidx, const long long *time_ps, const int *source, int n, long long covered_ps) {
    int rc = lock_open(devidx, 1);
    if (rc) return rc;
    Device *d = &devices[devidx];
    if (n < 0 || (n > 0 && (!time_ps || !source))) return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    for (int i = 0; i < n; i++) {
        int s = source[i];
        int ok = (s >= 0 && s < HHMAXINPCHAN) || s == SIG_SYNC ||
                 (s >= SIG_MARKER_RISING && s < SIG_MARKER_RISING + 8);
        if (!ok) return unlock_with(devidx, HH_ERROR_INVALID_ARGUMENT);
    }
    if (!d->running) return unlock_with(devidx, 0);
    if (d->pending_n + n > d->pending_cap) {
        long cap = d->pending_cap ? d->pending_cap : 4096;
        while (cap < d->pending_n + n) cap *= 2;
        Signal *bigger = (Signal *)realloc(d->pending, sizeof(Signal) * (size_t)cap);
        if (!bigger) return unlock_with(devidx, HH_ERROR_INVALID_MEMORY);
        d->pending = bigger;
        d->pending_cap = cap;
    }
    int accepted = 0;
    for (int i = 0; i < n; i++) {
        int s = source[i];
        long long t = time_ps[i];
        if (s < HHMAXINPCHAN) {
            if (s >= d->nchannels || !d->input_enabled[s]) continue;
            t += d->input_offset_ps[s];
        } else if (s == SIG_SYNC) {
            t += d->sync_offset_ps;
        }
        Signal *slot = &d->pending[d->pending_n++];
        slot->t = t;
        slot->seq = d->next_seq++;
        slot->src = s;
        accepted++;
    }
    qsort(d->pending, (size_t)d->pending_n, sizeof(Signal), compare_signals);
    if (covered_ps > d->covered_ps) d->covered_ps = covered_ps;
    advance(d);
    return unlock_with(devidx, accepted);
}
