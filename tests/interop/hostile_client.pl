#!/usr/bin/perl
# A raw-socket SMPP client for abuse tests: PDUs are packed by hand so
# that malformed ones can be sent, and what the server does to the
# connection (answers, EOF, reset) is seen as it is.
#
#   hostile_client.pl idle --port P [--src ADDR] --count N --out FILE
#                          --hold-file F [--max-seconds S]
#       Open N connections from ADDR and keep them open, sending nothing.
#       After 1 s, write "open=K closed=C refused=R" to FILE (C: closed by
#       the server since; R: connect() failed), then hold them until
#       F exists (or S seconds, default 30) and exit.
#
#   hostile_client.pl script --port P --system-id ID --password PW
#                            --steps STEPS [--timeout S]
#       Bind as a transceiver, then run STEPS (comma-separated):
#         good          a valid submit_sm
#         bad           a PDU with an unknown command_id (generic_nack)
#         unbind        unbind
#         wait          read until every PDU sent so far is answered
#         sleep:MS      pause
#         waitfile:F    pause until file F exists (at most --timeout)
#         readyfile:F   write F (the client is bound, say)
#       Writes between waits go out in one write (pipelined). After the
#       last step, read until the server closes or --timeout (default 10).
#       Prints one JSON line per PDU received
#         {"cmd":"0x80000004","seq":3,"status":0}
#       and a last line {"end":"eof"|"reset"|"timeout","bind":STATUS}.
use strict;
use warnings;
use Errno qw(ECONNRESET EPIPE);
use Getopt::Long;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

$| = 1;
$SIG{PIPE} = 'IGNORE';
my $mode = shift @ARGV // '';
my %o = (host => '127.0.0.1', src => '127.0.0.1', timeout => 10,
         'max-seconds' => 30);
GetOptions(\%o, 'host=s', 'port=i', 'src=s', 'count=i', 'out=s',
           'hold-file=s', 'max-seconds=i', 'system-id=s', 'password=s',
           'steps=s', 'timeout=i') or die "bad options\n";
die "--port is required\n" unless $o{port};

sub connect_one {
    return IO::Socket::INET->new(PeerAddr => $o{host}, PeerPort => $o{port},
                                 LocalAddr => $o{src}, Proto => 'tcp',
                                 Timeout => 5);
}

# ---- idle ------------------------------------------------------------
sub idle {
    my (@socks, $refused);
    $refused = 0;
    for (1 .. $o{count}) {
        my $s = connect_one();
        if ($s) { push @socks, $s } else { $refused++ }
    }
    sleep 1;
    my ($open, $closed) = (0, 0);
    for my $s (@socks) {
        # readable with nothing to read (EOF or reset): the server closed it
        if (IO::Select->new($s)->can_read(0)) {
            my $buf;
            my $n = sysread($s, $buf, 64);
            if (!defined $n || $n == 0) { $closed++; next; }
        }
        $open++;
    }
    open(my $fh, '>', "$o{out}.tmp") or die "$o{out}: $!\n";
    print $fh "open=$open closed=$closed refused=$refused\n";
    close $fh;
    rename "$o{out}.tmp", $o{out};
    my $until = time + $o{'max-seconds'};
    sleep 0.05 while !-e $o{'hold-file'} && time < $until;
    close $_ for @socks;
}

# ---- script ------------------------------------------------------------
my ($sock, $inbuf, $seq, $answered, $sent, $end) = (undef, '', 0, 0, 0, '');

sub pdu {
    my ($cmd, $body) = @_;
    $seq++;
    return pack('NNNN', 16 + length($body), $cmd, 0, $seq) . $body;
}

sub submit_pdu {
    my $text = "hello $seq";
    return pdu(0x00000004, pack('Z* CCZ* CCZ* CCC Z* Z* CCCC C a*', '',
                                1, 1, '3460001', 1, 1, '34600000001',
                                0, 0, 0, '', '', 0, 0, 0, 0,
                                length($text), $text));
}

# Read what is there (waiting up to <wait> s); print each whole PDU.
# Returns 0 once the connection has ended ($end says how).
sub pump {
    my ($wait) = @_;
    return 0 if $end;
    return 1 unless IO::Select->new($sock)->can_read($wait);
    my $n = sysread($sock, my $chunk, 65536);
    if (!defined $n) {
        $end = $! == ECONNRESET ? 'reset' : "error: $!";
        return 0;
    }
    if ($n == 0) {
        $end = 'eof';
        return 0;
    }
    $inbuf .= $chunk;
    while (length($inbuf) >= 16) {
        my ($len, $cmd, $status, $s) = unpack('NNNN', $inbuf);
        last if length($inbuf) < $len;
        substr($inbuf, 0, $len, '');
        printf "{\"cmd\":\"0x%08x\",\"seq\":%d,\"status\":%d}\n", $cmd, $s, $status;
        $answered++ if $cmd & 0x80000000;
    }
    return 1;
}

sub send_all {
    my ($bytes) = @_;
    return if $bytes eq '' || $end;
    my $off = 0;
    while ($off < length $bytes) {
        my $n = syswrite($sock, $bytes, length($bytes) - $off, $off);
        if (!defined $n) {
            $end = ($! == ECONNRESET || $! == EPIPE) ? 'reset' : "error: $!";
            return;
        }
        $off += $n;
    }
}

sub wait_answers {
    my $until = time + $o{timeout};
    while ($answered < $sent && time < $until) {
        last unless pump(0.1);
    }
}

sub script {
    $sock = connect_one() or die "connect: $!\n";
    send_all(pdu(0x00000009, pack('Z* Z* Z* C C C Z*', $o{'system-id'},
                                  $o{password}, '', 0x34, 0, 0, '')));
    $sent = 1;
    my $until = time + $o{timeout};
    my $bind_status = -1;
    while ($answered < 1 && time < $until) {
        last unless pump(0.1);
    }
    my $pending = '';
    for my $step (split /,/, $o{steps}) {
        if ($step eq 'good' || $step eq 'bad' || $step eq 'unbind') {
            $pending .= $step eq 'good' ? submit_pdu()
                      : $step eq 'bad'  ? pdu(0x00000099, '')
                                        : pdu(0x00000006, '');
            $sent++;
            next;
        }
        send_all($pending);
        $pending = '';
        if ($step eq 'wait') {
            wait_answers();
        } elsif ($step =~ /^sleep:(\d+)$/) {
            my $t = time + $1 / 1000;
            while (time < $t) { last unless pump($t - time) }
        } elsif ($step =~ /^waitfile:(.+)$/) {
            my $t = time + $o{timeout};
            while (!-e $1 && time < $t) { pump(0.05) }
        } elsif ($step =~ /^readyfile:(.+)$/) {
            open(my $fh, '>', $1) or die "$1: $!\n";
            print $fh "ready\n";
            close $fh;
        } else {
            die "unknown step $step\n";
        }
    }
    send_all($pending);
    $until = time + $o{timeout};
    while (time < $until) { last unless pump(0.1) }
    $end ||= 'timeout';
    print "{\"end\":\"$end\"}\n";
}

if ($mode eq 'idle') { idle() }
elsif ($mode eq 'script') { script() }
else { die "usage: $0 idle|script OPTIONS\n" }
