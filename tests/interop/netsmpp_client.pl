#!/usr/bin/perl
# Interop client: Net::SMPP (Debian libnet-smpp-perl), a third-party SMPP
# stack, binds as a transceiver and submits three kinds of message:
#   1. GSM 7-bit text (data_coding 0),
#   2. UCS-2 text (data_coding 8, UTF-16BE),
#   3. a 3-part concatenated message (esm_class 0x40, UDH 05 00 03 ref 03 n);
# then waits for one receipt per submitted part and checks that each
# receipt names an id it was given, in the text (id:) and in the TLV
# receipted_message_id, with stat DELIVRD. Prints "ok N" lines and exits
# non-zero on the first mismatch.
#
#   netsmpp_client.pl HOST PORT [SYSTEM_ID PASSWORD]
use strict;
use warnings;
use Net::SMPP;
$| = 1;

my ($host, $port, $sysid, $pw) = @ARGV;
die "usage: $0 HOST PORT [SYSTEM_ID PASSWORD]\n" unless $port;
$sysid //= 'interop';
$pw //= 'secret';
$SIG{ALRM} = sub { die "timeout\n" };
alarm 30;

my $smpp = Net::SMPP->new_transceiver($host, port => $port,
    system_id => $sysid, password => $pw, smpp_version => 0x34)
    or die "bind failed\n";
print "ok bound\n";

# Submits go out asynchronously: Net::SMPP's synchronous mode skips every
# other PDU while it waits for a response, and receipts may arrive then.
my %what_by_seq;   # sequence number => description
my %want;          # message id => description, until its receipt arrives
sub submit {
    my ($what, %args) = @_;
    my $seq = $smpp->submit_sm(async => 1, source_addr_ton => 5,
        source_addr => 'Interop', dest_addr_ton => 1, dest_addr_npi => 1,
        destination_addr => '34600000001', registered_delivery => 1, %args);
    $what_by_seq{$seq} = $what;
}

submit('gsm7', data_coding => 0, short_message => 'Hello from Net::SMPP @ 100%');
my $ucs2 = "\x{041F}\x{0440}\x{0438}\x{0432}\x{0435}\x{0442} \x{20AC}";  # "Privet EUR"
submit('ucs2', data_coding => 8, short_message => pack('n*', map { ord } split //, $ucs2));
my $ref = 0x2A;
for my $n (1 .. 3) {
    my $udh = pack('C*', 0x05, 0x00, 0x03, $ref, 3, $n);
    submit("part$n/3", esm_class => 0x40, data_coding => 0,
           short_message => $udh . ("part $n of a long message " x 5));
}

my ($responses, $receipts) = (0, 0);
while ($responses < 5 || keys %want) {
    my $pdu = $smpp->read_pdu() or die "connection lost\n";
    my $cmd = $pdu->{cmd};
    if ($cmd == 0x00000015) {    # enquire_link
        $smpp->enquire_link_resp(seq => $pdu->{seq});
    } elsif ($cmd == 0x80000004) {    # submit_sm_resp
        my $what = delete $what_by_seq{$pdu->{seq}} or die "resp to unknown seq\n";
        die "$what: status $pdu->{status}\n" if $pdu->{status} != 0;
        die "$what: empty message_id\n" unless length $pdu->{message_id};
        $want{$pdu->{message_id}} = $what;
        $responses++;
        print "ok submitted $what id=$pdu->{message_id}\n";
    } elsif ($cmd == 0x00000005) {    # deliver_sm
        $smpp->deliver_sm_resp(seq => $pdu->{seq}, message_id => '');
        die "receipt without esm_class 0x04\n" unless ($pdu->{esm_class} & 0x3C) == 0x04;
        my ($text_id) = $pdu->{short_message} =~ /\bid:(\S+)/;
        my ($stat) = $pdu->{short_message} =~ /\bstat:(\S+)/;
        my $tlv_id = $pdu->{receipted_message_id} // '';
        $tlv_id =~ s/\0$//;
        die "receipt without id\n" unless defined $text_id;
        die "TLV id '$tlv_id' != text id '$text_id'\n" if $tlv_id ne $text_id;
        die "receipt for unknown id '$text_id'\n" unless exists $want{$text_id};
        die "stat '$stat' for $want{$text_id}\n" if ($stat // '') ne 'DELIVRD';
        print "ok receipt $want{$text_id} id=$text_id\n";
        delete $want{$text_id};
        $receipts++;
    } else {
        die sprintf("unexpected command 0x%08x\n", $cmd);
    }
}
die "expected 5 receipts, got $receipts\n" if $receipts != 5;
$smpp->unbind();
print "ok unbound\n";
exit 0;
