#!/usr/bin/perl
# ops_client.pl - a small SMPP command runner on Net::SMPP (Debian
# libnet-smpp-perl), a third-party SMPP stack. It binds once, runs the
# operations given on the command line in order, and prints one JSON
# object per line for each response (and for each receipt collected), so
# that a test can check the wire values with jq.
#
#   ops_client.pl --host H --port P --system-id ID --password PW
#                 [--bind trx|tx|rx] [--timeout S] [--ready-file F] OP...
#
# --ready-file F: F is written once the bind has succeeded, so that a
# test can have the client connected and bound (a slow password hash on
# the server) before it starts what the operations must keep up with.
#
# Operations (fields separated by ':'):
#   submit:SRC:DST:TEXT[:RD]          submit_sm
#   submit_multi:SRC:D1,D2,...:TEXT[:RD]   submit_multi to SME addresses
#                                     (@NAME: a distribution list)
#   query:ID:SRC                      query_sm
#   cancel:ID:SRC[:DST]               cancel_sm (ID empty: cancel by SRC/DST)
#   replace:ID:SRC:TEXT[:RD]          replace_sm (new text, registered_delivery)
#   sleep:SECONDS                     wait, still answering the server
#   wait_file:PATH:SECONDS            wait until the file PATH exists, at
#                                     most SECONDS, still answering the
#                                     server (a go signal from the test)
#   receipts:N:SECONDS                wait until N receipts have arrived in
#                                     all (counting those that came during
#                                     earlier operations), at most SECONDS
#
# RD is registered_delivery (decimal or 0x..; default 1 for submits, 0 for
# replace). TEXT may hold ':' as long as its last ':'-field is not a number.
# ID is a message id as given by the server, `last` (the id of the last
# successful submit) or `$k` (the id of the k-th submit, from 1; quote it
# in the shell). An address of digits goes out with TON 1/NPI 1, anything
# else as alphanumeric (TON 5/NPI 0).
#
# Output, one object per line:
#   {"op":"query","seq":3,"status":0,"status_hex":"0x00000000",
#    "message_id":"...","final_date":"...","message_state":2,"error_code":0}
#   submit / submit_multi: "message_id"; submit_multi also
#     "unsuccess":[{"addr":"...","error":N},...]
#   cancel / replace: status only.
#   A response that does not come within --timeout (default 10 s):
#     {"op":...,"status":null,"error":"timeout"}; a generic_nack in its
#     place: "nack":true with the nack's status.
#   receipts: one {"op":"receipt","id":...,"stat":...,"err":...,
#     "receipted_message_id":...,"message_state":N,"network_error_code":
#     "030001","esm_class":4,"text":...} per deliver_sm receipt (esm_class
#     0x04 or intermediate 0x20), then {"op":"receipts","wanted":N,
#     "count":M,"timeout":false}.
#   deliver_sm that are not receipts (MO) are acknowledged and ignored.
#
# Exits 0 once every operation ran (whatever the statuses), 1 when the
# connection or the bind fails, 2 on a usage error.
use strict;
use warnings;
use Getopt::Long;
use IO::Select;
use Time::HiRes qw(time sleep);
use Net::SMPP;
$| = 1;

my %opt = (host => '127.0.0.1', bind => 'trx', timeout => 10,
           'system-id' => 'ops', password => 'secret');
GetOptions(\%opt, 'host=s', 'port=i', 'system-id=s', 'password=s', 'bind=s',
           'timeout=f', 'ready-file=s', 'verbose')
    or usage();
usage() unless $opt{port} && @ARGV;

sub usage {
    print STDERR "usage: $0 --host H --port P --system-id ID --password PW "
        . "[--bind trx|tx|rx] [--timeout S] [--ready-file F] OP...\n";
    exit 2;
}

# Net::SMPP warns about TLVs it does not name and about short bodies of
# error responses; the JSON says what matters.
$SIG{__WARN__} = sub { print STDERR @_ if $opt{verbose} };

my $ctor = { trx => 'new_transceiver', tx => 'new_transmitter',
             rx => 'new_receiver' }->{$opt{bind}} or usage();
my ($smpp, $bind_resp) = Net::SMPP->$ctor($opt{host}, port => $opt{port},
    system_id => $opt{'system-id'}, password => $opt{password},
    smpp_version => 0x34, timeout => $opt{timeout});
if (!$smpp || !$bind_resp) {
    print STDERR "ops_client: connect or bind to $opt{host}:$opt{port} failed\n";
    exit 1;
}
if ($bind_resp->{status} != 0) {
    printf STDERR "ops_client: bind refused, status 0x%08x\n", $bind_resp->{status};
    exit 1;
}
my $select = IO::Select->new($smpp);
if (defined $opt{'ready-file'}) {
    open my $fh, '>', $opt{'ready-file'}
        or die "ops_client: cannot write $opt{'ready-file'}: $!\n";
    print $fh "bound\n";
    close $fh;
}

# ---- JSON output (key order kept; numbers only where named) ----------

my %numeric = map { $_ => 1 } qw(seq status message_state error_code error
    wanted count esm_class);

sub json_str {
    my ($s) = @_;
    $s =~ s/(["\\])/\\$1/g;
    $s =~ s/([\x00-\x1f\x7f-\xff])/sprintf('\\u%04x', ord $1)/ge;
    return "\"$s\"";
}

sub json_val {
    my ($k, $v) = @_;
    return 'null' unless defined $v;
    return ${$v} ? 'true' : 'false' if ref $v eq 'SCALAR';
    return '[' . join(',', map { json_obj(@$_) } @$v) . ']' if ref $v eq 'ARRAY';
    return $v + 0 if $numeric{$k} && $v =~ /^-?\d+$/;
    return json_str($v);
}

sub json_obj {
    my @kv = @_;
    my @parts;
    while (my ($k, $v) = splice @kv, 0, 2) {
        push @parts, json_str($k) . ':' . json_val($k, $v);
    }
    return '{' . join(',', @parts) . '}';
}

sub emit { print json_obj(@_), "\n" }

# ---- reading ----------------------------------------------------------

my @receipts;      # receipts not yet printed
my $receipts_seen = 0;

sub cstr { my ($v) = @_; return undef unless defined $v; $v =~ s/\0.*//s; return $v }

sub on_deliver {
    my ($pdu) = @_;
    $smpp->deliver_sm_resp(seq => $pdu->{seq}, message_id => '');
    my $type = ($pdu->{esm_class} // 0) & 0x3C;
    return unless $type == 0x04 || $type == 0x20;
    my $text = $pdu->{short_message} // '';
    my %f;
    $f{$1} = $2 while $text =~ /\b(id|stat|err):(\S+)/g;
    my $state = $pdu->{message_state};
    my $nec = $pdu->{network_error_code};
    push @receipts, [op => 'receipt', id => $f{id}, stat => $f{stat}, err => $f{err},
        receipted_message_id => cstr($pdu->{receipted_message_id}),
        message_state => defined $state ? unpack('C', $state) : undef,
        network_error_code => defined $nec ? unpack('H*', $nec) : undef,
        esm_class => $pdu->{esm_class}, source_addr => $pdu->{source_addr},
        destination_addr => $pdu->{destination_addr}, text => $text];
    $receipts_seen++;
}

# Read one PDU within <deadline> (epoch seconds) and handle what the
# server sends on its own. Returns the PDU, or undef on timeout; exits
# when the connection is gone.
sub read_one {
    my ($deadline) = @_;
    my $left = $deadline - time;
    return undef if $left <= 0 || !$select->can_read($left);
    my $pdu = $smpp->read_pdu();
    if (!$pdu) {
        print STDERR "ops_client: connection lost\n";
        exit 1;
    }
    my $cmd = $pdu->{cmd};
    if ($cmd == 0x00000015) {
        $smpp->enquire_link_resp(seq => $pdu->{seq});
    } elsif ($cmd == 0x00000005) {
        on_deliver($pdu);
    } elsif ($cmd == 0x00000006) {
        $smpp->unbind_resp(seq => $pdu->{seq});
        print STDERR "ops_client: server unbound\n";
        exit 1;
    }
    return $pdu;
}

# Wait for the response to <seq>; its PDU or undef on timeout.
sub wait_resp {
    my ($seq) = @_;
    my $deadline = time + $opt{timeout};
    while (1) {
        my $pdu = read_one($deadline) or return undef;
        next unless $pdu->{cmd} & 0x80000000;
        return $pdu if $pdu->{seq} == $seq;
    }
}

# ---- operations -------------------------------------------------------

my @submitted;    # message ids of successful submits, in order
my @submit_seqs;  # every submit, in order: its id or undef when it failed

sub resolve_id {
    my ($id) = @_;
    return $submitted[-1] // '' if $id eq 'last';
    if ($id =~ /^\$(\d+)$/) {
        return $submit_seqs[$1 - 1] // '' if $1 >= 1;
    }
    return $id;
}

sub ton_of { return $_[0] =~ /^\+?\d+$/ ? 1 : 5 }
sub npi_of { return $_[0] =~ /^\+?\d+$/ ? 1 : 0 }
sub addr_args {
    my ($prefix, $addr) = @_;
    return ("${prefix}_ton" => ton_of($addr), "${prefix}_npi" => npi_of($addr));
}

sub parse_rd {
    my ($s, $default) = @_;
    return $default unless defined $s;
    return $s =~ /^0x/i ? hex $s : $s + 0;
}

# Split "TEXT[:RD]": RD only when the last field is a number.
sub text_and_rd {
    my ($rest) = @_;
    return ($1, $2) if $rest =~ /^(.*):(0x[0-9a-fA-F]+|\d+)$/s;
    return ($rest, undef);
}

sub status_fields {
    my ($pdu) = @_;
    return (status => undef, error => 'timeout') unless $pdu;
    my @f = (status => $pdu->{status}, status_hex => sprintf('0x%08x', $pdu->{status}));
    push @f, nack => \1 if $pdu->{cmd} == 0x80000000;
    return @f;
}

sub op_submit {
    my ($src, $dst, $rest) = @_;
    my ($text, $rd) = text_and_rd($rest // '');
    my $seq = $smpp->submit_sm(async => 1, addr_args('source_addr', $src),
        source_addr => $src, addr_args('dest_addr', $dst), destination_addr => $dst,
        registered_delivery => parse_rd($rd, 1), short_message => $text);
    my $resp = wait_resp($seq);
    my $ok = $resp && $resp->{status} == 0 && $resp->{cmd} == 0x80000004;
    push @submitted, $resp->{message_id} if $ok;
    push @submit_seqs, $ok ? $resp->{message_id} : undef;
    emit(op => 'submit', seq => $seq, status_fields($resp),
         message_id => $resp ? $resp->{message_id} : undef);
}

sub op_submit_multi {
    my ($src, $dsts, $rest) = @_;
    my ($text, $rd) = text_and_rd($rest // '');
    my @dst = split /,/, $dsts // '';
    # "@NAME" names a distribution list (dest_flag 2)
    my @flag = map { /^@/ ? 2 : 1 } @dst;
    s/^@// for @dst;
    my $seq = $smpp->submit_multi(async => 1, addr_args('source_addr', $src),
        source_addr => $src, destination_addr => [@dst], dest_flag => [@flag],
        dest_addr_ton => [map { ton_of($_) } @dst],
        dest_addr_npi => [map { npi_of($_) } @dst],
        registered_delivery => parse_rd($rd, 1), short_message => $text);
    my $resp = wait_resp($seq);
    my $ok = $resp && $resp->{status} == 0 && $resp->{cmd} == 0x80000021;
    push @submitted, $resp->{message_id} if $ok;
    push @submit_seqs, $ok ? $resp->{message_id} : undef;
    my @unsuccess;
    if ($resp && $resp->{cmd} == 0x80000021) {
        for my $i (0 .. ($resp->{no_unsuccess} // 0) - 1) {
            push @unsuccess, [addr => $resp->{destination_addr}[$i],
                              error => $resp->{error_status_code}[$i]];
        }
    }
    emit(op => 'submit_multi', seq => $seq, status_fields($resp),
         message_id => $resp ? $resp->{message_id} : undef, unsuccess => \@unsuccess);
}

sub op_query {
    my ($id, $src) = @_;
    $id = resolve_id($id // '');
    $src //= '';
    my $seq = $smpp->query_sm(async => 1, message_id => $id,
        addr_args('source_addr', $src), source_addr => $src);
    my $resp = wait_resp($seq);
    my $body = $resp && $resp->{cmd} == 0x80000003 && $resp->{status} == 0;
    emit(op => 'query', seq => $seq, status_fields($resp),
         message_id => $body ? $resp->{message_id} : undef,
         final_date => $body ? $resp->{final_date} : undef,
         message_state => $body ? $resp->{message_state} : undef,
         error_code => $body ? $resp->{error_code} : undef);
}

sub op_cancel {
    my ($id, $src, $dst) = @_;
    $id = resolve_id($id // '');
    $src //= '';
    $dst //= '';
    my $seq = $smpp->cancel_sm(async => 1, message_id => $id, service_type => '',
        addr_args('source_addr', $src), source_addr => $src,
        addr_args('dest_addr', $dst), destination_addr => $dst);
    emit(op => 'cancel', seq => $seq, message_id => $id, status_fields(wait_resp($seq)));
}

sub op_replace {
    my ($id, $src, $rest) = @_;
    $id = resolve_id($id // '');
    $src //= '';
    my ($text, $rd) = text_and_rd($rest // '');
    my $seq = $smpp->replace_sm(async => 1, message_id => $id,
        addr_args('source_addr', $src), source_addr => $src,
        schedule_delivery_time => '', validity_period => '',
        registered_delivery => parse_rd($rd, 0), sm_default_msg_id => 0,
        short_message => $text);
    emit(op => 'replace', seq => $seq, message_id => $id, status_fields(wait_resp($seq)));
}

sub op_sleep {
    my ($secs) = @_;
    my $deadline = time + ($secs // 0);
    1 while time < $deadline && (read_one($deadline) || time < $deadline);
}

# Poll for <path> every 20 ms (a file has no event to wait on), reading
# what the server sends meanwhile. Prints nothing, so that the responses
# keep their places in the output; a timeout only goes to stderr.
sub op_wait_file {
    my (@fields) = @_;
    my $secs = @fields > 1 ? pop @fields : $opt{timeout};
    my $path = join ':', @fields;
    my $deadline = time + $secs;
    until (-e $path) {
        if (time >= $deadline) {
            print STDERR "ops_client: no $path after $secs s\n";
            return;
        }
        my $step = time + 0.02;
        read_one($step < $deadline ? $step : $deadline);
    }
}

sub op_receipts {
    my ($n, $secs) = @_;
    $n //= 1;
    my $deadline = time + ($secs // $opt{timeout});
    while ($receipts_seen < $n && time < $deadline) {
        read_one($deadline);
    }
    emit(@$_) for @receipts;
    @receipts = ();
    emit(op => 'receipts', wanted => $n, count => $receipts_seen,
         timeout => \($receipts_seen < $n ? 1 : 0));
}

my %ops = (submit => \&op_submit, submit_multi => \&op_submit_multi,
           query => \&op_query, cancel => \&op_cancel, replace => \&op_replace,
           sleep => \&op_sleep, receipts => \&op_receipts,
           wait_file => \&op_wait_file);
my %max_fields = (submit => 3, submit_multi => 3, replace => 3);

for my $arg (@ARGV) {
    my ($name, $rest) = split /:/, $arg, 2;
    my $fn = $ops{$name};
    if (!$fn) {
        print STDERR "ops_client: unknown operation '$arg'\n";
        exit 2;
    }
    my @fields = split /:/, $rest // '', $max_fields{$name} // -1;
    $fn->(@fields);
}
$smpp->unbind(async => 1);
exit 0;
