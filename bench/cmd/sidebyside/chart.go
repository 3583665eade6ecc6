package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"strings"
)

var (
	colBackground = color.RGBA{255, 255, 255, 255}
	colText       = color.RGBA{30, 30, 30, 255}
	colMuted      = color.RGBA{140, 140, 140, 255}
	colGrid       = color.RGBA{225, 225, 225, 255}
	colAxis       = color.RGBA{60, 60, 60, 255}
	colFaster     = color.RGBA{46, 139, 87, 255}
	colSlower     = color.RGBA{200, 70, 60, 255}
	colRange      = color.RGBA{0, 0, 0, 255}
)

// Chart geometry, in pixels.
const (
	chartW     = 1100
	labelX     = 16
	barLeft    = 420
	barRight   = 1000
	rowH       = 24
	barH       = 14
	textScale  = 2
	headerH    = 96
	groupH     = 34
	footerH    = 40
	log2Extent = 4 // the axis spans 1/16 to 16
)

// ratioX is the x of a ratio on the log axis, clamped to its ends.
func ratioX(r float64) int {
	l := math.Max(-log2Extent, math.Min(log2Extent, math.Log2(r)))
	mid := float64(barLeft+barRight) / 2
	return int(math.Round(mid + l*float64(barRight-barLeft)/(2*log2Extent)))
}

// renderChart draws Tandem's ratio to the peer for every row as a bar on
// a log axis centred on 1 (green: Tandem faster; red: slower), with a
// whisker from Tandem's slowest over the peer's fastest run to Tandem's
// fastest over the peer's slowest. Rows Tandem does not serve yet say so.
func renderChart(rep *report) ([]byte, error) {
	type group struct {
		title string
		rows  []row
	}
	groups := []group{
		{title: "NFSV3 CLIENTS: TANDEM / NFS-GANESHA (FSAL_VFS)"},
		{title: "SMB CLIENTS: TANDEM / SAMBA"},
	}
	stores := group{title: "TANDEM ON POSTGRESQL + S3 / TANDEM ON ITS DEFAULT STORES"}
	for _, r := range rep.Rows {
		switch {
		case r.Stores:
			stores.rows = append(stores.rows, r)
		case r.Proto == "smb":
			groups[1].rows = append(groups[1].rows, r)
		default:
			groups[0].rows = append(groups[0].rows, r)
		}
	}
	if len(stores.rows) > 0 {
		groups = append(groups, stores)
	}
	n := 0
	for _, g := range groups {
		n += len(g.rows)
	}
	h := headerH + len(groups)*groupH + n*rowH + footerH
	img := image.NewRGBA(image.Rect(0, 0, chartW, h))
	fillRect(img, 0, 0, chartW, h, colBackground)

	drawText(img, labelX, 14, "TANDEM / PEER, MEDIAN OF EACH (ABOVE 1: TANDEM FASTER)", textScale, colText)
	m := rep.Meta
	commit := m.Commit
	if len(commit) > 12 {
		commit = commit[:12]
	}
	sub := fmt.Sprintf("COMMIT %s  %s  %d RUNS EACH  LOAD %s", commit, m.Date, m.Reps, m.LoadStart)
	drawText(img, labelX, 38, sub, 1, colMuted)

	// Axis ticks and the grid.
	top, bottom := headerH-8, h-footerH+4
	for e := -log2Extent; e <= log2Extent; e++ {
		x := ratioX(math.Exp2(float64(e)))
		c := colGrid
		if e == 0 {
			c = colAxis
		}
		fillRect(img, x, top, 1, bottom-top, c)
		lbl := fmt.Sprintf("%g", math.Exp2(float64(e)))
		if e < 0 {
			lbl = fmt.Sprintf("1/%g", math.Exp2(float64(-e)))
		}
		drawText(img, x-textWidth(lbl, 1)/2, top-14, lbl, 1, colMuted)
		drawText(img, x-textWidth(lbl, 1)/2, bottom+6, lbl, 1, colMuted)
	}

	y := headerH
	for _, g := range groups {
		drawText(img, labelX, y+12, g.title, textScale, colText)
		y += groupH
		for _, r := range g.rows {
			label := fmt.Sprintf("%-14s %s", r.Workload, r.Client)
			drawText(img, labelX, y+(rowH-glyphH*textScale)/2, label, textScale, colText)
			cy := y + (rowH-barH)/2
			switch {
			case r.Ratio > 0:
				x0, x1 := ratioX(1), ratioX(r.Ratio)
				c := colFaster
				if r.Ratio < 1 {
					c = colSlower
					x0, x1 = x1, x0
				}
				fillRect(img, x0, cy, max(x1-x0, 2), barH, c)
				// Whisker: the spread of the runs.
				if r.Peer.Value.Min > 0 && r.Peer.Value.Max > 0 {
					lo := ratioX(r.Tandem.Value.Min / r.Peer.Value.Max)
					hi := ratioX(r.Tandem.Value.Max / r.Peer.Value.Min)
					fillRect(img, lo, y+rowH/2, max(hi-lo, 1), 1, colRange)
					fillRect(img, lo, y+rowH/2-3, 1, 7, colRange)
					fillRect(img, hi, y+rowH/2-3, 1, 7, colRange)
				}
				txt := fmt.Sprintf("%.2f", r.Ratio)
				tx := ratioX(r.Ratio) + 6
				if r.Ratio < 1 {
					tx = ratioX(r.Ratio) - 6 - textWidth(txt, textScale)
				}
				tx = max(barLeft-textWidth(txt, textScale)-4, min(tx, chartW-textWidth(txt, textScale)-4))
				ty := y + (rowH-glyphH*textScale)/2
				// A white ground keeps the whisker from striking the number through.
				fillRect(img, tx-2, ty-1, textWidth(txt, textScale)+2, glyphH*textScale+2, colBackground)
				drawText(img, tx, ty, txt, textScale, colText)
			default:
				msg := rowStatus(r)
				drawText(img, ratioX(1)+8, y+(rowH-glyphH*textScale)/2, msg, textScale, colMuted)
			}
			y += rowH
		}
	}
	foot := "BAR: RATIO OF MEDIANS. WHISKER: SLOWEST AND FASTEST RUN RATIOS. LOG SCALE."
	drawText(img, labelX, h-16, foot, 1, colMuted)

	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// rowStatus says why a row has no ratio.
func rowStatus(r row) string {
	switch {
	case r.Tandem.Status == statusNotServed:
		return "TANDEM: NOT YET SERVED"
	case r.Tandem.Status == statusFailed:
		return "TANDEM: FAILED"
	case r.Peer.Status != statusOK:
		return strings.ToUpper(r.Peer.Server) + ": " + strings.ToUpper(r.Peer.Status)
	}
	return "NO DATA"
}
