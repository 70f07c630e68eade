# Loads a Vagrantfile with a stub `Vagrant.configure` that records every call, then prints the
# machines it defines as JSON: [{name, hostname, ip, box, memory: {provider: MiB}}].
# Used by test/lab/vagrant.test.ts (Vagrant itself cannot be installed on the test machine).
require 'json'

class Recorder
  attr_reader :calls, :children

  def initialize
    @calls = []
    @children = {}
  end

  def method_missing(name, *args, **kw, &blk)
    n = name.to_s
    if n.end_with?('=')
      @calls << [n.chomp('='), args.first]
      return args.first
    end
    if blk
      child = Recorder.new
      @calls << [n, args, kw, child]
      blk.call(child, Recorder.new)
      return child
    end
    @calls << [n, args, kw]
    @children[n] ||= Recorder.new
  end

  def respond_to_missing?(*)
    true
  end

  def value(key)
    c = @calls.reverse.find { |call| call[0] == key && call.length == 2 }
    c && c[1]
  end
end

module Vagrant
  CONFIGS = []
  def self.configure(version)
    raise "unexpected config version #{version}" unless version.to_s == '2'
    cfg = Recorder.new
    yield cfg
    CONFIGS << cfg
  end
end

load ARGV.fetch(0)
machines = []
Vagrant::CONFIGS.each do |cfg|
  vm = cfg.children['vm']
  box = vm.value('box')
  vm.calls.select { |c| c[0] == 'define' && c.length == 4 }.each do |c|
    node_vm = c[3].children['vm']
    net = node_vm.calls.find { |n| n[0] == 'network' && n[1][0] == 'private_network' }
    memory = {}
    node_vm.calls.select { |p| p[0] == 'provider' && p.length == 4 }.each do |p|
      memory[p[1][0]] = p[3].value('memory')
    end
    machines << {
      name: c[1][0],
      hostname: node_vm.value('hostname'),
      ip: net && net[2][:ip],
      box: node_vm.value('box') || box,
      memory: memory,
      provisioners: node_vm.calls.count { |p| p[0] == 'provision' },
    }
  end
end
puts JSON.generate(machines)
