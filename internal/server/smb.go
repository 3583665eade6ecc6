package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/tandemfs/tandem/internal/meta"
	"github.com/tandemfs/tandem/internal/smb"
)

// startSMB serves SMB2/3 on cfg.SMBPort with the users of the identity
// store and the shares' SMB options.
func (s *Server) startSMB(ctx context.Context) error {
	guid, err := s.serverGUID(ctx)
	if err != nil {
		return fmt.Errorf("server GUID: %w", err)
	}
	var obs smb.Observer
	if s.smbMetrics != nil {
		obs = s.smbMetrics
	}
	s.smb = smb.New(s.FS, s.ids, smb.Options{
		Logger:             s.log.With("component", "smb"),
		ServerGUID:         guid,
		Locks:              s.locks.mgr,
		Notices:            s.locks.route,
		Journal:            s.locks.journal,
		Durable:            durableStore{s.locks.journal},
		BreakTimeout:       time.Duration(s.cfg.BreakTimeout),
		Observer:           obs,
		MaxCredits:         uint16(s.cfg.Limits.SMBMaxCredits),
		WriteTimeout:       time.Duration(s.cfg.Limits.WriteTimeout),
		MaxSessions:        s.cfg.Limits.SMBMaxSessions,
		HandshakeTimeout:   time.Duration(s.cfg.Limits.HandshakeTimeout),
		OnHandshakeTimeout: s.limitMetrics.vec.WithLabelValues("smb", "handshake_timeout").Inc,
		Share: func(name string) smb.ShareOptions {
			sh := s.shares.get(name)
			return smb.ShareOptions{Encrypt: sh.Encrypt, Guest: sh.Guest, Comment: sh.Comment}
		},
	})
	s.locks.smb.Store(s.smb)
	if recs := s.locks.durable; len(recs) > 0 {
		// They wait for their clients' reconnects until the grace period
		// ends (or their own timeout, if sooner).
		until := time.Now()
		if gs := s.locks.mgr.Grace(); gs.Active {
			until = gs.Ends
		}
		s.smb.RestoreDurable(recs, until)
		s.log.Info("SMB durable opens of the last run restored, waiting for their clients", "opens", len(recs), "until", until.Format(time.RFC3339))
	}
	s.locks.durable = nil
	addr := net.JoinHostPort(s.cfg.Listen, strconv.Itoa(s.cfg.SMBPort))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("SMB listener: %w", err)
	}
	s.SMBAddr = l.Addr()
	l = s.limitListener(l, "smb", s.smb.Connections, s.logons)
	s.noteListener("smb", l.Addr().String(), "tcp")
	s.mu.Lock()
	s.listeners = append(s.listeners, l)
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.smb.Serve(l); err != nil && !errors.Is(err, smb.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			s.log.Error("SMB listener stopped", "addr", l.Addr(), "err", err)
		}
	}()
	s.log.Info("listening", "service", "smb", "addr", l.Addr().String(),
		"mount", fmt.Sprintf("mount -t cifs //HOST/%s /mnt -o port=%d,username=USER", s.cfg.FirstShare(), l.Addr().(*net.TCPAddr).Port))
	return nil
}

// serverGUID is persisted so that clients recognise the server across
// restarts (durable handles and leases are tied to it).
func (s *Server) serverGUID(ctx context.Context) ([16]byte, error) {
	var g [16]byte
	err := s.meta.Update(ctx, func(tx meta.Tx) error {
		b, err := tx.Get("server", []byte("smb-guid"))
		if err == nil && len(b) == 16 {
			copy(g[:], b)
			return nil
		}
		if err != nil && !errors.Is(err, meta.ErrNotFound) {
			return err
		}
		if _, err := rand.Read(g[:]); err != nil {
			return err
		}
		return tx.Put("server", []byte("smb-guid"), g[:])
	})
	return g, err
}
