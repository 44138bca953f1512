/*
 * hhlib_sim: a stand-in for PicoQuant's HHLib 3.x (libhh400.so) for tests.
 *
 * It implements the subset of the HHLib C API that avalab's ctypes driver calls, with the same
 * signatures, return conventions (0 = ok, negative = error code, HH_GetErrorString) and
 * measurement life cycle (StartMeas -> GetFlags/ReadFiFo/CTCStatus -> StopMeas), so the Python
 * marshalling (char buffers, int and double out-parameters, uint32 record buffers) is exercised
 * for real. It has no photon source of its own: the test pushes events through the extra
 * HHSIM_* functions (produced by the simulated bench), and the library turns them into T2/T3
 * records in its FIFO or into histogram-mode counts, exactly as the hardware would encode them.
 *
 * Error code values follow HHLib's errorcodes.h as far as we know them (UNVERIFIED against a
 * real installation).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAXDEVNUM 8
#define HHMAXINPCHAN 8
#define MAXHISTLEN 65536
#define TTREADMAX 131072
#define FIFO_CAPACITY (4 * 1024 * 1024)

#define MODE_HIST 0
#define MODE_T2 2
#define MODE_T3 3

#define FLAG_OVERFLOW 0x0001
#define FLAG_FIFOFULL 0x0002
#define FLAG_SYNC_LOST 0x0004
#define FLAG_REF_LOST 0x0008
#define FLAG_SYSERROR 0x0010
#define FLAG_ACTIVE 0x0020

#define HH_ERROR_NONE 0
#define HH_ERROR_DEVICE_OPEN_FAIL -1
#define HH_ERROR_DEVICE_BUSY -2
#define HH_ERROR_DEVICE_NOT_OPEN -10
#define HH_ERROR_INSTANCE_RUNNING -16
#define HH_ERROR_INVALID_ARGUMENT -17
#define HH_ERROR_INVALID_MODE -18
#define HH_ERROR_INVALID_MEMORY -20
#define HH_ERROR_NOT_INITIALIZED -22
#define HH_ERROR_NOT_CALIBRATED -23

#define BASE_RESOLUTION_PS 1.0
#define T2_WRAP 33554432LL
#define T3_WRAP 1024LL

typedef struct {
    int open;
    int initialized;
    int calibrated;
    int mode;
    int running;
    int sync_div;
    int sync_cfd_mv;
    int sync_offset_ps;
    int input_cfd_mv[HHMAXINPCHAN];
    int input_offset_ps[HHMAXINPCHAN];
    int binning;
    int offset_ns;
    int histo_len;
    int stop_overflow;
    unsigned int stop_count;
    int marker_edges[4];
    int marker_enable[4];
    int sync_rate_hz;
    int count_rate[HHMAXINPCHAN];
    int flags;
    int tacq_ms;
    struct timespec started;
    /* FIFO of encoded records */
    uint32_t *fifo;
    long fifo_head, fifo_tail;
    long long last_wrap; /* overflow periods already emitted */
    /* histogram memory */
    uint32_t hist[HHMAXINPCHAN][MAXHISTLEN];
} Device;

static Device devices[MAXDEVNUM];

static double elapsed_ms(const Device *d) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - d->started.tv_sec) * 1e3 + (now.tv_nsec - d->started.tv_nsec) / 1e6;
}

static int check_dev(int devidx) {
    if (devidx < 0 || devidx >= MAXDEVNUM) return HH_ERROR_INVALID_ARGUMENT;
    if (!devices[devidx].open) return HH_ERROR_DEVICE_NOT_OPEN;
    return HH_ERROR_NONE;
}

static int check_init(int devidx) {
    int rc = check_dev(devidx);
    if (rc) return rc;
    return devices[devidx].initialized ? HH_ERROR_NONE : HH_ERROR_NOT_INITIALIZED;
}

int HH_GetLibraryVersion(char *vers) {
    strcpy(vers, "3.0");
    return HH_ERROR_NONE;
}

int HH_GetErrorString(char *errstring, int errcode) {
    const char *text;
    switch (errcode) {
        case HH_ERROR_NONE: text = "HH_ERROR_NONE"; break;
        case HH_ERROR_DEVICE_OPEN_FAIL: text = "HH_ERROR_DEVICE_OPEN_FAIL"; break;
        case HH_ERROR_DEVICE_BUSY: text = "HH_ERROR_DEVICE_BUSY"; break;
        case HH_ERROR_DEVICE_NOT_OPEN: text = "HH_ERROR_DEVICE_NOT_OPEN"; break;
        case HH_ERROR_INSTANCE_RUNNING: text = "HH_ERROR_INSTANCE_RUNNING"; break;
        case HH_ERROR_INVALID_ARGUMENT: text = "HH_ERROR_INVALID_ARGUMENT"; break;
        case HH_ERROR_INVALID_MODE: text = "HH_ERROR_INVALID_MODE"; break;
        case HH_ERROR_INVALID_MEMORY: text = "HH_ERROR_INVALID_MEMORY"; break;
        case HH_ERROR_NOT_INITIALIZED: text = "HH_ERROR_NOT_INITIALIZED"; break;
        case HH_ERROR_NOT_CALIBRATED: text = "HH_ERROR_NOT_CALIBRATED"; break;
        default: text = "HH_ERROR_UNKNOWN"; break;
    }
    strcpy(errstring, text);
    return HH_ERROR_NONE;
}

int HH_OpenDevice(int devidx, char *serial) {
    if (devidx < 0 || devidx >= MAXDEVNUM) return HH_ERROR_INVALID_ARGUMENT;
    Device *d = &devices[devidx];
    if (d->open) return HH_ERROR_DEVICE_BUSY;
    memset(d, 0, sizeof(*d));
    d->fifo = (uint32_t *)malloc(sizeof(uint32_t) * FIFO_CAPACITY);
    if (!d->fifo) return HH_ERROR_INVALID_MEMORY;
    d->open = 1;
    d->sync_div = 1;
    d->histo_len = MAXHISTLEN;
    snprintf(serial, 8, "%07d", 1000000 + devidx);
    return HH_ERROR_NONE;
}

int HH_CloseDevice(int devidx) {
    if (devidx < 0 || devidx >= MAXDEVNUM) return HH_ERROR_INVALID_ARGUMENT;
    Device *d = &devices[devidx];
    free(d->fifo);
    memset(d, 0, sizeof(*d));
    return HH_ERROR_NONE;
}

int HH_Initialize(int devidx, int mode, int refsource) {
    int rc = check_dev(devidx);
    if (rc) return rc;
    if (mode != MODE_HIST && mode != MODE_T2 && mode != MODE_T3) return HH_ERROR_INVALID_MODE;
    if (refsource != 0 && refsource != 1) return HH_ERROR_INVALID_ARGUMENT;
    devices[devidx].mode = mode;
    devices[devidx].initialized = 1;
    return HH_ERROR_NONE;
}

int HH_GetHardwareInfo(int devidx, char *model, char *partno, char *version) {
    int rc = check_init(devidx);
    if (rc) return rc;
    strcpy(model, "HydraHarp 400");
    strcpy(partno, "930004");
    strcpy(version, "2.0");
    return HH_ERROR_NONE;
}

int HH_GetNumOfInputChannels(int devidx, int *nchannels) {
    int rc = check_init(devidx);
    if (rc) return rc;
    *nchannels = 2;
    return HH_ERROR_NONE;
}

int HH_Calibrate(int devidx) {
    int rc = check_init(devidx);
    if (rc) return rc;
    devices[devidx].calibrated = 1;
    return HH_ERROR_NONE;
}

int HH_GetBaseResolution(int devidx, double *resolution, int *binsteps) {
    int rc = check_init(devidx);
    if (rc) return rc;
    *resolution = BASE_RESOLUTION_PS;
    *binsteps = 26;
    return HH_ERROR_NONE;
}

int HH_SetSyncDiv(int devidx, int div) {
    int rc = check_init(devidx);
    if (rc) return rc;
    if (div < 1 || div > 16) return HH_ERROR_INVALID_ARGUMENT;
    devices[devidx].sync_div = div;
    return HH_ERROR_NONE;
}

int HH_SetSyncCFD(int devidx, int level, int zerocross) {
    int rc = check_init(devidx);
    if (rc) return rc;
    if (level < 0 || level > 1000 || zerocross < 0 || zerocross > 40) return HH_ERROR_INVALID_ARGUMENT;
    devices[devidx].sync_cfd_mv = level;
    return HH_ERROR_NONE;
}

int HH_SetSyncChannelOffset(int devidx, int value) {
    int rc = check_init(devidx);
    if (rc) return rc;
    if (value < -99999 || value > 99999) return HH_ERROR_INVALID_ARGUMENT;
    devices[devidx].sync_offset_ps = value;
    return HH_ERROR_NONE;
}

int HH_SetInputCFD(int devidx, int channel, int level, int zerocross) {
    int rc = check_init(devidx);
    if (rc) return rc;
    if (channel < 0 || channel >= HHMAXINPCHAN || level < 0 || level > 1000 || zerocross < 0 ||
        zerocross > 40)
        return HH_ERROR_INVALID_ARGUMENT;
    devices[devidx].input_cfd_mv[channel] = level;
    return HH_ERROR_NONE;
}

int HH_SetInputChannelOffset(int devidx, int channel, int value) {
    int rc = check_init(devidx);
    if (rc) return rc;
    if (channel < 0 || channel >= HHMAXINPCHAN || value < -99999 || value > 99999)
        return HH_ERROR_INVALID_ARGUMENT;
    devices[devidx].input_offset_ps[channel] = value;
    return HH_ERROR_NONE;
}

int HH_SetBinning(int devidx, int binning) {
    int rc = check_init(devidx);
    if (rc) return rc;
    if (binning < 0 || binning > 25) return HH_ERROR_INVALID_ARGUMENT;
    devices[devidx].binning = binning;
    return HH_ERROR_NONE;
}

int HH_SetOffset(int devidx, int offset) {
    int rc = check_init(devidx);
    if (rc) return rc;
    if (offset < 0 || offset > 500000) return HH_ERROR_INVALID_ARGUMENT;
    devices[devidx].offset_ns = offset;
    return HH_ERROR_NONE;
}

int HH_GetResolution(int devidx, double *resolution) {
    int rc = check_init(devidx);
    if (rc) return rc;
    *resolution = BASE_RESOLUTION_PS * (double)(1 << devices[devidx].binning);
    return HH_ERROR_NONE;
}

int HH_SetHistoLen(int devidx, int lencode, int *actuallen) {
    int rc = check_init(devidx);
    if (rc) return rc;
    if (lencode < 0 || lencode > 6) return HH_ERROR_INVALID_ARGUMENT;
    devices[devidx].histo_len = 1024 << lencode;
    *actuallen = devices[devidx].histo_len;
    return HH_ERROR_NONE;
}

int HH_SetStopOverflow(int devidx, int stop_ovfl, unsigned int stopcount) {
    int rc = check_init(devidx);
    if (rc) return rc;
    if (stopcount < 1) return HH_ERROR_INVALID_ARGUMENT;
    devices[devidx].stop_overflow = stop_ovfl;
    devices[devidx].stop_count = stopcount;
    return HH_ERROR_NONE;
}

int HH_ClearHistMem(int devidx) {
    int rc = check_init(devidx);
    if (rc) return rc;
    memset(devices[devidx].hist, 0, sizeof(devices[devidx].hist));
    return HH_ERROR_NONE;
}

int HH_SetMarkerEdges(int devidx, int me1, int me2, int me3, int me4) {
    int rc = check_init(devidx);
    if (rc) return rc;
    int e[4] = {me1, me2, me3, me4};
    for (int i = 0; i < 4; i++) {
        if (e[i] != 0 && e[i] != 1) return HH_ERROR_INVALID_ARGUMENT;
        devices[devidx].marker_edges[i] = e[i];
    }
    return HH_ERROR_NONE;
}

int HH_SetMarkerEnable(int devidx, int en1, int en2, int en3, int en4) {
    int rc = check_init(devidx);
    if (rc) return rc;
    int e[4] = {en1, en2, en3, en4};
    for (int i = 0; i < 4; i++) {
        if (e[i] != 0 && e[i] != 1) return HH_ERROR_INVALID_ARGUMENT;
        devices[devidx].marker_enable[i] = e[i];
    }
    return HH_ERROR_NONE;
}

int HH_StartMeas(int devidx, int tacq) {
    int rc = check_init(devidx);
    if (rc) return rc;
    Device *d = &devices[devidx];
    if (!d->calibrated) return HH_ERROR_NOT_CALIBRATED;
    if (d->running) return HH_ERROR_INSTANCE_RUNNING;
    if (tacq < 1 || tacq > 360000000) return HH_ERROR_INVALID_ARGUMENT;
    d->tacq_ms = tacq;
    d->running = 1;
    d->flags = FLAG_ACTIVE;
    d->fifo_head = d->fifo_tail = 0;
    d->last_wrap = 0;
    clock_gettime(CLOCK_MONOTONIC, &d->started);
    return HH_ERROR_NONE;
}

int HH_StopMeas(int devidx) {
    int rc = check_init(devidx);
    if (rc) return rc;
    devices[devidx].running = 0;
    devices[devidx].flags &= ~FLAG_ACTIVE;
    return HH_ERROR_NONE;
}

int HH_CTCStatus(int devidx, int *ctcstatus) {
    int rc = check_init(devidx);
    if (rc) return rc;
    Device *d = &devices[devidx];
    *ctcstatus = (!d->running || elapsed_ms(d) >= d->tacq_ms) ? 1 : 0;
    return HH_ERROR_NONE;
}

int HH_GetFlags(int devidx, int *flags) {
    int rc = check_init(devidx);
    if (rc) return rc;
    *flags = devices[devidx].flags;
    return HH_ERROR_NONE;
}

int HH_GetSyncRate(int devidx, int *syncrate) {
    int rc = check_init(devidx);
    if (rc) return rc;
    *syncrate = devices[devidx].sync_rate_hz;
    return HH_ERROR_NONE;
}

int HH_GetCountRate(int devidx, int channel, int *cntrate) {
    int rc = check_init(devidx);
    if (rc) return rc;
    if (channel < 0 || channel >= HHMAXINPCHAN) return HH_ERROR_INVALID_ARGUMENT;
    *cntrate = devices[devidx].count_rate[channel];
    return HH_ERROR_NONE;
}

int HH_GetElapsedMeasTime(int devidx, double *elapsed) {
    int rc = check_init(devidx);
    if (rc) return rc;
    *elapsed = devices[devidx].running ? elapsed_ms(&devices[devidx]) : 0.0;
    return HH_ERROR_NONE;
}

int HH_ReadFiFo(int devidx, unsigned int *buffer, int count, int *nactual) {
    int rc = check_init(devidx);
    if (rc) return rc;
    Device *d = &devices[devidx];
    if (d->mode == MODE_HIST) return HH_ERROR_INVALID_MODE;
    if (count < 0 || count > TTREADMAX) return HH_ERROR_INVALID_ARGUMENT;
    long available = d->fifo_tail - d->fifo_head;
    long n = available < count ? available : count;
    memcpy(buffer, d->fifo + d->fifo_head, sizeof(uint32_t) * (size_t)n);
    d->fifo_head += n;
    *nactual = (int)n;
    return HH_ERROR_NONE;
}

int HH_GetHistogram(int devidx, unsigned int *chcount, int channel, int clear) {
    int rc = check_init(devidx);
    if (rc) return rc;
    Device *d = &devices[devidx];
    if (channel < 0 || channel >= HHMAXINPCHAN) return HH_ERROR_INVALID_ARGUMENT;
    memcpy(chcount, d->hist[channel], sizeof(uint32_t) * (size_t)d->histo_len);
    if (clear) memset(d->hist[channel], 0, sizeof(d->hist[channel]));
    return HH_ERROR_NONE;
}

/* ------------------------------------------------------------------ simulation entry points */

/* Rates the device reports (the bench knows them). */
int HHSIM_SetRates(int devidx, int syncrate, int channel, int cntrate) {
    int rc = check_dev(devidx);
    if (rc) return rc;
    if (channel < 0 || channel >= HHMAXINPCHAN) return HH_ERROR_INVALID_ARGUMENT;
    devices[devidx].sync_rate_hz = syncrate;
    devices[devidx].count_rate[channel] = cntrate;
    return HH_ERROR_NONE;
}

static int push_record(Device *d, uint32_t rec) {
    if (d->fifo_tail >= FIFO_CAPACITY) {
        d->flags |= FLAG_FIFOFULL;
        return HH_ERROR_INVALID_MEMORY;
    }
    d->fifo[d->fifo_tail++] = rec;
    return HH_ERROR_NONE;
}

/*
 * Push events in time order. kind[i] < 0: photon on input channel -kind-1 (0-based);
 * kind[i] in 1..15: marker bits. T2: time_ps[i] is the absolute time tag (ps).
 * T3: time_ps[i] is the absolute sync count and dtime_ps[i] the delay after that sync (ps).
 * Histogram mode: photons add to hist[channel][(dtime_ps - offset) / resolution].
 */
int HHSIM_PushEvents(int devidx, const long long *time_ps, const long long *dtime_ps,
                     const int *kind, int n) {
    int rc = check_init(devidx);
    if (rc) return rc;
    Device *d = &devices[devidx];
    if (!d->running) return HH_ERROR_INVALID_ARGUMENT;
    double resolution = BASE_RESOLUTION_PS * (double)(1 << d->binning);
    for (int i = 0; i < n; i++) {
        int special = kind[i] >= 0;
        int channel = special ? kind[i] : (-kind[i] - 1);
        if (channel < 0 || channel > 15 || (!special && channel >= HHMAXINPCHAN))
            return HH_ERROR_INVALID_ARGUMENT;
        if (d->mode == MODE_HIST) {
            if (special) continue;
            long long bin = (long long)((dtime_ps[i] - (long long)d->offset_ns * 1000) / resolution);
            if (bin < 0 || bin >= d->histo_len) continue;
            if (d->hist[channel][bin] == 0xFFFFFFFFu) {
                d->flags |= FLAG_OVERFLOW;
                continue;
            }
            d->hist[channel][bin]++;
            continue;
        }
        long long wrap = d->mode == MODE_T2 ? T2_WRAP : T3_WRAP;
        long long stamp = time_ps[i];
        long long needed = stamp / wrap;
        while (needed > d->last_wrap) {
            long long maxstep = d->mode == MODE_T2 ? 0x1FFFFFF : 0x3FF;
            long long step = needed - d->last_wrap;
            if (step > maxstep) step = maxstep;
            if ((rc = push_record(d, 0x80000000u | (0x3Fu << 25) | (uint32_t)step))) return rc;
            d->last_wrap += step;
        }
        uint32_t low = (uint32_t)(stamp - d->last_wrap * wrap);
        uint32_t rec = (special ? 0x80000000u : 0u) | ((uint32_t)channel << 25);
        if (d->mode == MODE_T2) {
            rec |= low;
        } else {
            long long dt = (long long)(dtime_ps[i] / resolution);
            if (dt < 0) dt = 0;
            if (dt > 0x7FFF) dt = 0x7FFF;
            rec |= ((uint32_t)(special ? 0 : dt) << 10) | low;
        }
        if ((rc = push_record(d, rec))) return rc;
    }
    return HH_ERROR_NONE;
}
