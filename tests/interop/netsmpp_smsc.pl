#!/usr/bin/perl
# Interop server: a minimal SMSC built on Net::SMPP (Debian
# libnet-smpp-perl), a third-party SMPP stack, for smpp-load to run
# against. Accepts any bind (one child process per connection), answers
# submit_sm with a decimal id and, when registered_delivery asks, sends a
# receipt (deliver_sm, esm_class 0x04, text id: and TLV
# receipted_message_id) on the same session; answers enquire_link and
# unbind. Exits after MAX_SECONDS at most.
#
#   netsmpp_smsc.pl PORT_FILE [MAX_SECONDS]
use strict;
use warnings;
use Net::SMPP;
use POSIX ':sys_wait_h';

my ($port_file, $max_seconds) = @ARGV;
die "usage: $0 PORT_FILE [MAX_SECONDS]\n" unless $port_file;
$max_seconds //= 120;

my $listener = Net::SMPP->new_listen('127.0.0.1', port => 0, smpp_version => 0x34)
    or die "listen: $!\n";
open my $pf, '>', "$port_file.tmp" or die "$port_file: $!\n";
print $pf $listener->sockport, "\n";
close $pf;
rename "$port_file.tmp", $port_file or die "rename: $!\n";

my %children;
$SIG{CHLD} = sub { while ((my $pid = waitpid(-1, WNOHANG)) > 0) { delete $children{$pid} } };
my $stop = sub { kill 'TERM', keys %children; exit 0 };
$SIG{TERM} = $stop;
$SIG{INT} = $stop;
$SIG{ALRM} = $stop;
alarm $max_seconds;

my $next_id = 1000000 + $$ * 1000;
while (1) {
    my $conn = $listener->accept or next;
    $next_id += 1000000;
    my $pid = fork;
    die "fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        $SIG{TERM} = 'DEFAULT';
        serve($conn, $next_id);
        exit 0;
    }
    $children{$pid} = 1;
    close $conn;
}

sub receipt_text {
    my ($id) = @_;
    my @t = gmtime;
    my $d = sprintf '%02d%02d%02d%02d%02d', $t[5] % 100, $t[4] + 1, $t[3], $t[2], $t[1];
    return "id:$id sub:001 dlvrd:001 submit date:$d done date:$d stat:DELIVRD err:000 text:";
}

sub serve {
    my ($smpp, $id) = @_;
    my %bind_resp = (0x00000001 => 'bind_receiver_resp',
                     0x00000002 => 'bind_transmitter_resp',
                     0x00000009 => 'bind_transceiver_resp');
    while (my $pdu = $smpp->read_pdu()) {
        my $cmd = $pdu->{cmd};
        if (my $method = $bind_resp{$cmd}) {
            $smpp->$method(seq => $pdu->{seq}, system_id => 'netsmpp-smsc');
        } elsif ($cmd == 0x00000004) {    # submit_sm
            my $mid = $id++;
            $smpp->submit_sm_resp(seq => $pdu->{seq}, message_id => $mid);
            next unless ($pdu->{registered_delivery} // 0) & 0x03;
            $smpp->deliver_sm(async => 1,
                source_addr_ton => $pdu->{dest_addr_ton},
                source_addr_npi => $pdu->{dest_addr_npi},
                source_addr => $pdu->{destination_addr},
                dest_addr_ton => $pdu->{source_addr_ton},
                dest_addr_npi => $pdu->{source_addr_npi},
                destination_addr => $pdu->{source_addr},
                esm_class => 0x04, short_message => receipt_text($mid),
                receipted_message_id => "$mid\0", message_state => pack('C', 2));
        } elsif ($cmd == 0x00000015) {
            $smpp->enquire_link_resp(seq => $pdu->{seq});
        } elsif ($cmd == 0x00000006) {
            $smpp->unbind_resp(seq => $pdu->{seq});
            last;
        }
        # deliver_sm_resp and anything else: nothing to answer
    }
}
