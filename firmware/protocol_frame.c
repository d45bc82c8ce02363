/*
 * protocol_frame.c: the framing half of the tinyrt protocol server (docs/protocol.md, "Framing").
 *
 * Bytes come in through tr_proto_feed(); a 0x00 ends a frame, which is COBS-decoded in place,
 * checked (length, CRC-32, version) and handed to protocol.c (tr_proto_dispatch), whose response
 * payload is written into the response buffer through tr_proto_out*. Every non-empty frame gets
 * exactly one answer: the response, or an ERROR frame saying what was wrong. A retry of the last
 * request that must not run twice gets its answer again (is_retry). I/O only through board.h;
 * no model: the commands and the model's tensors are protocol.c's.
 */
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "protocol.h"
#include "protocol_frame.h"

#if TR_PROTO_MAX_PAYLOAD < TR_PROTO_MAX_PAYLOAD_LOWEST || TR_PROTO_MAX_PAYLOAD > TR_PROTO_MAX_PAYLOAD_HIGHEST
#error "TR_PROTO_MAX_PAYLOAD must be between 128 and 65000"
#endif

static uint8_t rx[TR_FRAME_RX_MAX];
static uint32_t rx_len;
static uint8_t rx_overflow;

/* The last response sent (ERROR frames are built on the stack), so a retried INVOKE or training
 * command can be answered again without running: see is_retry(). */
static uint8_t tx[TR_FRAME_BODY_MAX];
static uint32_t tx_len;     /* payload bytes at tx + TR_PROTO_HEADER */
static uint32_t tx_need;    /* what the payload would take if it had not been cut */
static uint8_t replayable;  /* tx answers the last request, one that must not run twice */
static uint32_t replay_crc; /* that request's CRC: it covers its type, seq and payload */
static uint32_t err_detail; /* the detail of the error the request being served failed with */

uint32_t tr_crc32(uint32_t crc, const uint8_t *data, uint32_t len)
{
    static const uint32_t nibble[16] = {
        0x00000000u, 0x1db71064u, 0x3b6e20c8u, 0x26d930acu, 0x76dc4190u, 0x6b6b51f4u,
        0x4db26158u, 0x5005713cu, 0xedb88320u, 0xf00f9344u, 0xd6d6a3e8u, 0xcb61b38cu,
        0x9b64c2b0u, 0x86d3d2d4u, 0xa00ae278u, 0xbdbdf21cu,
    };
    crc = ~crc;
    for (uint32_t i = 0; i < len; i++) {
        crc ^= data[i];
        crc = (crc >> 4) ^ nibble[crc & 15u];
        crc = (crc >> 4) ^ nibble[crc & 15u];
    }
    return ~crc;
}

static void put_le(uint8_t *p, uint32_t v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

void tr_proto_out(const void *data, uint32_t n)
{
    tx_need += n;
    if (tx_need > TR_PROTO_MAX_PAYLOAD) {
        return;
    }
    if (n > 0) {
        memcpy(tx + TR_PROTO_HEADER + tx_len, data, n);
    }
    tx_len += n;
}

void tr_proto_out_le(uint32_t v, uint32_t n)
{
    uint8_t b[4];
    put_le(b, v, n);
    tr_proto_out(b, n);
}

void tr_proto_out_u64(uint64_t v)
{
    tr_proto_out_le((uint32_t)v, 4);
    tr_proto_out_le((uint32_t)(v >> 32), 4);
}

void tr_proto_out_str(const char *s)
{
    uint32_t n = (uint32_t)strlen(s);
    if (n > TR_PROTO_STR_MAX) {
        n = TR_PROTO_STR_MAX;
    }
    tr_proto_out_le(n, 1);
    tr_proto_out(s, n);
}

uint8_t *tr_proto_out_room(uint32_t n)
{
    uint8_t *room = tx + TR_PROTO_HEADER + tx_len;
    tx_len += n;
    tx_need += n;
    return room;
}

uint32_t tr_proto_fail(uint32_t code, uint32_t detail)
{
    err_detail = detail;
    return code;
}

/* 0x00, the COBS encoding of buf[0..n), 0x00. Blocks are written straight from buf. */
static void write_cobs(const uint8_t *buf, uint32_t n)
{
    static const uint8_t zero = 0;
    uint32_t start = 0;
    tr_board_write(&zero, 1);
    for (;;) {
        uint32_t end = start;
        while (end < n && buf[end] != 0 && end - start < 254) {
            end++;
        }
        uint8_t code = (uint8_t)(end - start + 1);
        tr_board_write(&code, 1);
        if (end > start) {
            tr_board_write(buf + start, end - start);
        }
        if (end == n) {
            break;
        }
        start = code == 0xff ? end : end + 1;
    }
    tr_board_write(&zero, 1);
}

/* Fill in the header and CRC around the `len` payload bytes at buf + TR_PROTO_HEADER; send. */
static void send_frame(uint8_t *buf, uint32_t type, uint32_t seq, uint32_t len)
{
    buf[0] = TR_PROTO_VERSION;
    buf[1] = (uint8_t)type;
    put_le(buf + 2, seq, 2);
    put_le(buf + 4, len, 2);
    uint32_t n = TR_PROTO_HEADER + len;
    put_le(buf + n, tr_crc32(0, buf, n), 4);
    write_cobs(buf, n + 4);
}

static void send_error(uint32_t code, uint32_t seq, uint32_t command, uint32_t detail)
{
    uint8_t buf[TR_PROTO_OVERHEAD + TR_PROTO_ERROR_BYTES];
    buf[TR_PROTO_HEADER] = (uint8_t)code;
    buf[TR_PROTO_HEADER + 1] = (uint8_t)command;
    put_le(buf + TR_PROTO_HEADER + 2, detail, 4);
    send_frame(buf, TR_CMD_ERROR, seq, TR_PROTO_ERROR_BYTES);
}

/* A retry of the request answered last (the same frame: the host resends a request whose answer
 * it lost with the same seq) gets that answer again rather than running again. */
static int is_retry(uint32_t crc)
{
    return replayable && crc == replay_crc;
}

/* Decode rx[0..n) in place; returns the decoded length, or -1 on a code byte past the end. */
static int32_t cobs_decode(uint8_t *buf, uint32_t n)
{
    uint32_t r = 0, w = 0;
    while (r < n) {
        uint32_t code = buf[r++];
        if (code - 1 > n - r) {   /* also catches code 0, impossible between delimiters */
            return -1;
        }
        for (uint32_t i = 1; i < code; i++) {
            buf[w++] = buf[r++];
        }
        if (code < 0xff && r < n) {
            buf[w++] = 0;
        }
    }
    return (int32_t)w;
}

static void handle_frame(void)
{
    int32_t decoded = cobs_decode(rx, rx_len);
    if (decoded < 0) {
        send_error(TR_ERR_BAD_COBS, TR_PROTO_SEQ_UNKNOWN, 0, rx_len);
        return;
    }
    uint32_t n = (uint32_t)decoded;
    if (n < TR_PROTO_OVERHEAD) {
        send_error(TR_ERR_BAD_LENGTH, n >= 4 ? tr_rd16(rx + 2) : TR_PROTO_SEQ_UNKNOWN, n >= 2 ? rx[1] : 0, n);
        return;
    }
    uint32_t type = rx[1], seq = tr_rd16(rx + 2), len = tr_rd16(rx + 4);
    uint32_t crc = tr_rd32(rx + n - 4);
    if (crc != tr_crc32(0, rx, n - 4)) {
        send_error(TR_ERR_BAD_CRC, seq, type, crc);
    } else if (rx[0] != TR_PROTO_VERSION) {
        send_error(TR_ERR_BAD_VERSION, seq, type, TR_PROTO_VERSION);
    } else if (len != n - TR_PROTO_OVERHEAD) {
        send_error(TR_ERR_BAD_LENGTH, seq, type, n);
    } else if (len > TR_PROTO_MAX_PAYLOAD) {
        send_error(TR_ERR_OVERSIZE, seq, type, TR_PROTO_MAX_PAYLOAD);
    } else if (is_retry(crc)) {
        write_cobs(tx, TR_PROTO_OVERHEAD + tr_rd16(tx + 4));
    } else {
        replayable = 0;
        tx_len = 0;
        tx_need = 0;
        uint32_t err = tr_proto_dispatch(type, rx + TR_PROTO_HEADER, len);
        if (err != 0) {
            send_error(err, seq, type, err_detail);
        } else if (tx_need > TR_PROTO_MAX_PAYLOAD) {
            send_error(TR_ERR_TOO_LARGE, seq, type, tx_need);
        } else {
            send_frame(tx, type | TR_PROTO_RESPONSE_BIT, seq, tx_len);
            replayable = (uint8_t)tr_proto_runs_once(type);
            replay_crc = crc;
        }
    }
}

void tr_proto_feed(uint8_t byte)
{
    if (byte != 0) {
        if (rx_len < TR_FRAME_RX_MAX) {
            rx[rx_len++] = byte;
        } else {
            rx_overflow = 1;
        }
        return;
    }
    if (rx_overflow) {
        send_error(TR_ERR_OVERSIZE, TR_PROTO_SEQ_UNKNOWN, 0, TR_PROTO_MAX_PAYLOAD);
    } else if (rx_len > 0) {
        handle_frame();
    }
    rx_len = 0;
    rx_overflow = 0;
}

void tr_proto_serve(void)
{
    for (;;) {
        tr_proto_feed(tr_board_getc());
    }
}
